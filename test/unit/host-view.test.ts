/** Whether an engine sees this machine's files: the decision on the nonce probe, and how the engine is reached. */
import { describe, expect, it } from "vitest";
import { engineReach, hostViewVerdict } from "../../src/core/host-view.ts";

const nonce = "5f2b9c0e8d7a41d6b3c2a1f0e9d8c7b6";

describe("the host-view probe", () => {
  it("passes when the sandbox read the nonce back", () => {
    expect(hostViewVerdict({ nonce, output: `${nonce}\n`, exitCode: 0 }, "tcp://127.0.0.1:2375", "tcp", "/w/target")).toEqual({ ok: true });
    // Whatever else came with it: the nonce exists only in the host file.
    expect(
      hostViewVerdict(
        { nonce, output: `WARN[0000] a runtime's warning\n${nonce}${nonce}`, exitCode: 0 },
        "/run/user/1001/podman/podman.sock",
        "local socket",
        "/w",
      ).ok,
    ).toBe(true);
  });

  it("refuses an empty view (a remote engine, a VM without the path shared), naming what it saw and the way out", () => {
    const v = hostViewVerdict(
      { nonce, output: "cat: /w/target/.cratebox-host-view-x/nonce: No such file or directory\n", exitCode: 1 },
      "tcp://build-host:2376",
      "tcp",
      "/w/target",
    );
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toMatch(
      /^the Docker engine at tcp:\/\/build-host:2376 does not see this machine's files: a file cratebox wrote in \/w\/target was not there/,
    );
    expect(v.message).toContain("No such file or directory");
    expect(v.hint).toMatch(/one runner per job, each with its own local engine/);
    const vm = hostViewVerdict({ nonce, output: "", exitCode: 1 }, "/var/run/docker.sock", "local socket", "/w/target");
    expect(!vm.ok && vm.hint).toMatch(/must share \/w\/target/);
  });

  it("refuses a probe that could not run, or that printed the nonce and failed, and never passes other content", () => {
    expect(hostViewVerdict({ nonce, output: "", exitCode: undefined, error: "exec: /bin/sh: no such file\nmore" }, "ssh://ci@host", "ssh", "/w")).toMatchObject(
      {
        ok: false,
        message: expect.stringContaining("the probe sandbox could not run (exec: /bin/sh: no such file)"),
      },
    );
    expect(hostViewVerdict({ nonce, output: nonce, exitCode: 137 }, "x", "tcp", "/w")).toMatchObject({
      ok: false,
      message: expect.stringContaining("exited with 137"),
    });
    expect(hostViewVerdict({ nonce, output: "another nonce", exitCode: 0 }, "x", "tcp", "/w").ok).toBe(false);
  });

  it("tells a local socket from tcp:// and ssh://", () => {
    expect(engineReach(undefined)).toBe("local socket");
    expect(engineReach("unix:///run/user/1000/podman/podman.sock")).toBe("local socket");
    expect(engineReach("tcp://127.0.0.1:2375")).toBe("tcp");
    expect(engineReach("ssh://ci@build-host")).toBe("ssh");
    expect(engineReach("npipe:////./pipe/docker_engine")).toBe("other");
  });
});
