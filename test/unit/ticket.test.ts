import { describe, expect, it } from "vitest";
import { envChanges, envDigest, ticketName, type TicketFields, toTicketText } from "../../src/core/ticket.ts";

const SECRET = "0123456789abcdef0123456789abcdef";

describe("a ticket's fingerprint of the environment", () => {
  it("does not depend on the variables' order, and changes with any value, name or the secret", () => {
    const base = envDigest(SECRET, { A: "1", B: "2" });
    expect(envDigest(SECRET, { B: "2", A: "1" })).toBe(base);
    expect(envDigest(SECRET, { A: "1", B: "3" })).not.toBe(base);
    expect(envDigest(SECRET, { A: "1", B: "2", C: "" })).not.toBe(base);
    expect(envDigest(SECRET.replace("0", "1"), { A: "1", B: "2" })).not.toBe(base);
    // `A=1B=2` must not read as `A=1B` and `=2`: each variable ends in a NUL.
    expect(envDigest(SECRET, { A: "1B=2" })).not.toBe(base);
  });

  it("leaves out bin/cratebox's own variables, the shell's last command and its last directory", () => {
    const base = envDigest(SECRET, { A: "1" });
    expect(envDigest(SECRET, { A: "1", CRATEBOX_EARLY: "/tmp/x", CRATEBOX_EARLY_JOB: "12", _: "/usr/bin/cargo", OLDPWD: "/" })).toBe(base);
    expect(envDigest(SECRET, { A: "1", CRATEBOX_POLICY: "p.js" })).not.toBe(base);
  });
});

describe("cargo's variables against the run's", () => {
  it("sets what is new or different, unsets what is gone, and writes the run's directory as @run", () => {
    const run = { PATH: "/bin", RUSTC_WRAPPER: "sccache", CARGO_BUILD_RUSTC_WRAPPER: "x" };
    const cargo = {
      PATH: "/bin",
      RUSTC_WRAPPER: "/opt/cratebox/src/shims/rustc-wrapper.sh",
      CRATEBOX_SOCKET: "/tmp/run-1/run.sock",
      CRATEBOX_SHIM: "/tmp/run-10/x",
    };
    expect(envChanges(run, cargo, "/tmp/run-1")).toEqual({
      set: { RUSTC_WRAPPER: "/opt/cratebox/src/shims/rustc-wrapper.sh", CRATEBOX_SOCKET: "@run/run.sock", CRATEBOX_SHIM: "/tmp/run-10/x" },
      unset: ["CARGO_BUILD_RUSTC_WRAPPER"],
    });
  });
});

describe("the ticket's text", () => {
  const fields: TicketFields = {
    secret: SECRET,
    build: "b1",
    cwd: "/ws",
    argv: ["cratebox.js", "cargo", "build"],
    env: "e",
    meta: "m",
    roots: [{ raw: "/ws/target", real: "/real/target" }],
    stamps: new Map([
      ["/ws/cratebox.toml", null],
      ["/ws/Cargo.lock", "1:2:3:4:5"],
    ]),
    realpaths: new Map([["/home/u", undefined]]),
    program: "cargo",
    args: ["build"],
    set: { RUSTC_WRAPPER: "/w" },
    unset: ["X"],
    say: ["WARNING: w"],
    after: ["nothing sandboxed"],
  };

  it("is NUL-terminated fields, records in a fixed order, absent files and paths as -", () => {
    expect(toTicketText(fields).split("\0")).toEqual([
      "cratebox-ticket 1",
      ...["secret", SECRET, "build", "b1", "cwd", "/ws", "argv", "3", "cratebox.js", "cargo", "build", "env", "e", "meta", "m"],
      ...["root", "/ws/target", "/real/target"],
      ...["stamp", "/ws/cratebox.toml", "-", "stamp", "/ws/Cargo.lock", "1:2:3:4:5", "real", "/home/u", "-"],
      ...["cargo", "cargo", "1", "build", "set", "RUSTC_WRAPPER", "/w", "unset", "X"],
      ...["say", "WARNING: w", "after", "nothing sandboxed", "end", ""],
    ]);
  });

  it("refuses a field with a NUL in it", () => {
    expect(() => toTicketText({ ...fields, args: ["a\0b"] })).toThrow(/NUL/);
  });

  it("is named by the run's question", () => {
    const name = ticketName(SECRET, "/ws", ["cratebox.js", "cargo", "build"]);
    expect(name).toMatch(/^[0-9a-f]{16}$/);
    expect(ticketName(SECRET, "/ws", ["cratebox.js", "cargo", "check"])).not.toBe(name);
    expect(ticketName(SECRET, "/ws2", ["cratebox.js", "cargo", "build"])).not.toBe(name);
    expect(ticketName(SECRET, "/ws", ["cargo-cratebox.js", "cargo", "build"])).not.toBe(name);
  });
});
