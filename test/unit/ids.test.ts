import { describe, expect, it } from "vitest";
import { Fingerprint, fingerprint } from "../../src/core/fingerprint.ts";
import { randomHex, randomUuid } from "../../src/runtime/random.ts";

describe("random identifiers from /dev/urandom", () => {
  it("makes version-4 UUIDs, each new", () => {
    const ids = Array.from({ length: 200 }, randomUuid);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
  it("makes hex of the length asked, each new", () => {
    expect(randomHex(16)).toMatch(/^[0-9a-f]{32}$/);
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
    expect(randomHex(16)).not.toBe(randomHex(16));
  });
});

describe("fingerprints", () => {
  it("are 16 hex digits, the same for the same content, another for other content", () => {
    expect(fingerprint("")).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint("FROM scratch\n")).toBe(fingerprint("FROM scratch\n"));
    expect(fingerprint("FROM scratch\n")).not.toBe(fingerprint("FROM scratch \n"));
  });
  it("take texts and bytes in parts: ASCII text and its bytes agree, and order counts", () => {
    const whole = new Fingerprint().update("file\0Dockerfile\0-\0").update(Buffer.from("FROM scratch\n")).digest();
    expect(whole).toBe(fingerprint("file\0Dockerfile\0-\0FROM scratch\n"));
    expect(new Fingerprint().update("b").update("a").digest()).not.toBe(new Fingerprint().update("a").update("b").digest());
  });
});
