/** SandboxSpec -> bwrap's command line: the same view as a container, from the same spec. Pure. */
import { describe, expect, it } from "vitest";
import { bwrapRefusal, toBwrapArgs } from "../../src/core/bwrap-args.ts";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import type { SandboxSpec } from "../../src/core/sandbox-spec.ts";

const spec: SandboxSpec = {
  image: "cratebox/sandbox:t",
  cmd: ["/t/debug/build/foo-a/build_script_build-a.cratebox-real"],
  backstopSeconds: 930,
  workdir: "/reg/foo-1.0.0",
  env: { OUT_DIR: "/t/debug/build/foo-b/out", SECRET_GRANTED: "s3cr3t" },
  user: "1000:1001",
  mounts: [
    { source: "/t/debug/build/foo-b/out", target: "/t/debug/build/foo-b/out", readOnly: false },
    { source: "/usr", target: "/usr", readOnly: true },
    { source: "/reg/foo-1.0.0", target: "/reg/foo-1.0.0", readOnly: true },
  ],
  tmpfs: [
    { target: "/tmp", options: "rw,nosuid,nodev,size=1073741824,mode=1777" },
    { target: "/home/cratebox", options: "rw,nosuid,nodev,noexec,size=16m,mode=1777" },
    { target: "/t", options: "rw,nosuid,nodev,noexec,size=1m,mode=0755" },
  ],
  limits: DEFAULT_LIMITS,
  network: "none",
  runtime: "runc",
  labels: {},
  withheldEnv: [],
  withheldPaths: [],
};

describe("toBwrapArgs", () => {
  const args = toBwrapArgs(spec);
  const joined = args.join(" ");

  it("unshares every namespace, forbids new user namespaces, drops every capability, dies with cratebox", () => {
    for (const flag of ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]) expect(args).toContain(flag);
    expect(joined).toContain("--cap-drop ALL");
    expect(args).not.toContain("--share-net");
    expect(joined).toContain("--uid 1000 --gid 1001");
  });

  it("mounts what the spec mounts, at the same paths, with tmpfs masks before what is mounted below them", () => {
    expect(joined).toContain("--ro-bind /usr /usr");
    expect(joined).toContain("--ro-bind /reg/foo-1.0.0 /reg/foo-1.0.0");
    expect(joined).toContain("--bind /t/debug/build/foo-b/out /t/debug/build/foo-b/out");
    expect(args.indexOf("/t")).toBeLessThan(args.indexOf("/t/debug/build/foo-b/out"));
    expect(joined).toContain("--perms 1777 --size 1073741824 --tmpfs /tmp");
    expect(joined).toContain("--perms 1777 --size 16777216 --tmpfs /home/cratebox");
  });

  it("ends with a read-only root, the working directory and the command; no environment on the command line", () => {
    // No backstop timer: the sandbox dies with cratebox (--die-with-parent), unlike a container.
    expect(joined).toMatch(/--chdir \/reg\/foo-1\.0\.0 --remount-ro \/ -- \/t\/debug\/build\/foo-a\/build_script_build-a\.cratebox-real$/);
    expect(args).toContain("--die-with-parent");
    expect(joined).not.toContain("s3cr3t");
    expect(args).not.toContain("--setenv");
  });

  it("puts the egress relay in front of the command", () => {
    expect(toBwrapArgs({ ...spec, relay: ["/.cratebox/node", "/.cratebox/egress-relay.js"] }).join(" ")).toMatch(
      /-- \/\.cratebox\/node \/\.cratebox\/egress-relay\.js \/t\/debug\/build\/foo-a\/build_script_build-a\.cratebox-real$/,
    );
  });
});

describe("bwrapRefusal", () => {
  it("leaves to the engine what bwrap cannot give: another image, another runtime, full network", () => {
    expect(bwrapRefusal(spec, spec.image)).toBeUndefined();
    expect(bwrapRefusal({ ...spec, image: "debian:12" }, spec.image)).toMatch(/its own image/);
    expect(bwrapRefusal({ ...spec, runtime: "runsc" }, spec.image)).toMatch(/runsc/);
    expect(bwrapRefusal({ ...spec, network: "full" }, spec.image)).toMatch(/full network/);
    expect(bwrapRefusal({ ...spec, network: "proxy" }, spec.image)).toBeUndefined();
  });
});
