import { describe, expect, it } from "vitest";
import { parseTrace, toGrantPaths, toLikelyCauses } from "../../src/core/trace.ts";

const TRACE = `12 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
12 openat(AT_FDCWD, "/opt/sdk/include/sdk.h", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
12 openat(AT_FDCWD, "/etc/optional.conf", O_RDONLY) = -1 ENOENT (No such file or directory)
12 openat(AT_FDCWD, "/usr/share/x/out.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = -1 EROFS (Read-only file system)
12 newfstatat(AT_FDCWD, "/proc/self/maps", {...}, 0) = -1 ENOENT (No such file or directory)
13 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("93.184.216.34")}, 16) = -1 ENETUNREACH (Network is unreachable)
13 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/docker.sock"}, 110) = -1 ENOENT (No such file or directory)
12 openat(AT_FDCWD, "/work/app/src/lib.rs", O_RDONLY) = -1 ENOENT (No such file or directory)
`;

describe("parseTrace", () => {
  const onHost = new Set(["/opt/sdk/include/sdk.h", "/usr/share/x", "/work/app/src/lib.rs"]);
  const d = parseTrace(TRACE, (p) => onHost.has(p), ["/work/app"]);
  it("keeps what exists on the host outside the view, in order", () => {
    expect(d.reads).toEqual(["/opt/sdk/include/sdk.h"]); // not the absent optional file, not a visible place
    expect(d.writes).toEqual(["/usr/share/x/out.txt"]);
    expect(d.connects).toEqual(["93.184.216.34:443"]);
    expect(d.sockets).toEqual(["/var/run/docker.sock"]);
    expect(d.sequence.map((s) => s.kind)).toEqual(["read", "write", "connect", "socket"]);
  });
  it("grants the narrowest path: a file read is the file, not its directory; a directory covers what is below it", () => {
    const isDir = (p: string) => p === "/opt/sdk" || p === "/etc";
    expect(toGrantPaths(["/etc/gitconfig"], "read", isDir)).toEqual(["/etc/gitconfig"]);
    expect(toGrantPaths(["/opt/sdk/include/sdk.h", "/opt/sdk/include/other.h", "/opt/sdk"], "read", isDir)).toEqual(["/opt/sdk"]);
    expect(toGrantPaths(["/opt/sdk/include/sdk.h", "/opt/sdk/include/other.h"], "read", isDir)).toEqual(["/opt/sdk/include/other.h", "/opt/sdk/include/sdk.h"]);
  });
  it("grants a write the directory the file is created in, unless the path is a directory", () => {
    const isDir = (p: string) => p === "/srv/gen";
    expect(toGrantPaths(["/srv/gen/out.rs"], "write", isDir)).toEqual(["/srv/gen"]);
    expect(toGrantPaths(["/srv/gen"], "write", isDir)).toEqual(["/srv/gen"]);
  });
  it("reads a path through `..` as the path it is: outside the package", () => {
    const d = parseTrace('openat(AT_FDCWD, "/w/probe/../outside.txt", O_RDONLY) = -1 ENOENT (No such file or directory)\n', () => true, ["/w/probe"]);
    expect(d.reads).toEqual(["/w/outside.txt"]);
  });
  it("takes a denial in the workspace, else the last one that is not a usual optional probe, as the cause", () => {
    const seq = [
      { kind: "read" as const, value: "/w/fixtures/data.txt" },
      { kind: "read" as const, value: "/etc/gitconfig" },
    ];
    expect(toLikelyCauses(seq, "/w")).toEqual([seq[0]]);
    expect(
      toLikelyCauses(
        [
          { kind: "read", value: "/opt/sdk/v" },
          { kind: "read", value: "/etc/gitconfig" },
        ],
        "/w",
      ),
    ).toEqual([{ kind: "read", value: "/opt/sdk/v" }]);
    expect(toLikelyCauses([{ kind: "read", value: "/etc/gitconfig" }], "/w")).toEqual([{ kind: "read", value: "/etc/gitconfig" }]);
  });
});
