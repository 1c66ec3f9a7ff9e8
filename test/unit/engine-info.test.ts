/** engineInfo: one `GET /info` per engine connection, however many parts of a run ask; a failure is not kept. */
import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { engineInfo } from "../../src/runtime/engine.ts";

function fakeEngine(answers: (() => Promise<Record<string, unknown>>)[]): { docker: Docker; calls: () => number } {
  let calls = 0;
  const docker = { info: () => answers[calls++]!() } as unknown as Docker;
  return { docker, calls: () => calls };
}

describe("engineInfo", () => {
  it("asks the engine once per connection", async () => {
    const { docker, calls } = fakeEngine([async () => ({ ID: "one" })]);
    const [a, b] = await Promise.all([engineInfo(docker), engineInfo(docker)]);
    expect(await engineInfo(docker)).toEqual({ ID: "one" });
    expect(a).toBe(b);
    expect(calls()).toBe(1);
  });

  it("asks again after a failed request", async () => {
    const { docker, calls } = fakeEngine([async () => Promise.reject(new Error("engine restarting")), async () => ({ ID: "two" })]);
    await expect(engineInfo(docker)).rejects.toThrow("engine restarting");
    expect(await engineInfo(docker)).toEqual({ ID: "two" });
    expect(calls()).toBe(2);
  });
});
