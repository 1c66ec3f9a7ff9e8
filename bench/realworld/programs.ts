/**
 * The real programs `scripts/realworld` builds and tests, from Debian's source packages
 * (bookworm), and what each needs before its own suite runs plainly. Every adjustment to a
 * program's source is listed here with its reason: a suite that is broken under plain cargo
 * makes every "difference" noise.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Program {
  /** Short name used on the command line and in the table. */
  name: string;
  /** Debian source package (`apt-get source`). */
  source: string;
  /** What the program exercises in cratebox. */
  exercises: string;
  /** Changes to the fresh copy so that the suite builds and runs under plain cargo (documented). */
  prepare?: (dir: string) => void;
  adjustments: string[];
  /** Extra arguments for cargo (before `--`) and for libtest (after `--`). */
  cargoArgs?: string[];
  testArgs?: string[];
  /** Tests known to fail under plain cargo here, by test name, with the cause found. */
  knownFailures?: Record<string, string>;
}

const FIXTURES = path.join(import.meta.dirname, "fixtures");

function editFile(file: string, edit: (text: string) => string): void {
  const before = readFileSync(file, "utf8");
  const after = edit(before);
  if (after === before) throw new Error(`adjustment did not apply to ${file}: the source changed?`);
  writeFileSync(file, after);
}

export const PROGRAMS: Program[] = [
  {
    name: "ripgrep",
    source: "rust-ripgrep",
    exercises: "271 integration tests that each spawn `rg` (CARGO_BIN_EXE), a build script (man page, completions)",
    adjustments: [
      "Cargo.toml: feature `simd-accel = [\"grep/simd-accel\"]` removed: Debian's grep 0.2.10 lacks that feature and cargo 1.95 refuses a feature naming a missing feature of a dependency (Debian's cargo 0.66 did not)",
    ],
    prepare: (dir) => editFile(path.join(dir, "Cargo.toml"), (t) => t.replace(/^simd-accel = .*\n/m, "")),
  },
  {
    name: "fd",
    source: "rust-fd-find",
    exercises: "integration tests that spawn `fd` in temporary directory trees; clap 4 derive (proc macros); a build script",
    adjustments: [],
    knownFailures: {
      test_exec_batch:
        "Debian's patch completion-fdfind.diff renames the command to `fdfind` (#[command(name = \"fdfind\")]), so clap's usage line reads `Usage: fdfind`, and the test expects `Usage: fd`",
      test_type_executable:
        "plain: the suite runs as root, and for root faccessat(X_OK) succeeds on a file with any x bit (0o645), so `not-user-executable-file.sh` is listed too; cratebox: the private /tmp is mounted noexec (Docker adds noexec to a tmpfs unless `exec` is given), so faccessat(X_OK) fails for every file of the test's temporary tree and even `executable-file.sh` (0o777) is missing",
    },
  },
  {
    name: "bat",
    source: "rust-bat",
    exercises: "assert_cmd integration tests spawning `bat`; C through cc and pkg-config (oniguruma, libgit2); serde derive",
    adjustments: [
      "tests/examples (29 fixture files, 19 KB) copied from upstream's v0.22.1 tag: Debian's source lacks them, and a third of the integration tests read them",
      "test `no_args_doesnt_break` skipped (--skip): it hands one pty descriptor to two owned Stdio handles, and today's std aborts the whole test binary on the double close (IO safety), which hides every later result",
      "Cargo.toml: dev-dependencies serial_test 0.6 -> 0.9 and nix 0.24 -> 0.26, the versions Debian packages (the tests use #[serial] and nix::pty::openpty, the same in both)",
    ],
    prepare: (dir) => {
      cpSync(path.join(FIXTURES, "bat/tests/examples"), path.join(dir, "tests/examples"), { recursive: true });
      editFile(path.join(dir, "Cargo.toml"), (t) =>
        t
          .replace('[dev-dependencies.serial_test]\nversion = "0.6.0"', '[dev-dependencies.serial_test]\nversion = "0.9"')
          .replace('[target."cfg(unix)".dev-dependencies.nix]\nversion = "0.24.2"', '[target."cfg(unix)".dev-dependencies.nix]\nversion = "0.26"'),
      );
    },
    testArgs: ["--skip", "no_args_doesnt_break"],
    knownFailures: {
      diagnostic_sanity_check:
        "Debian's patch disable-bugreport.diff builds bat without its `bugreport` feature, so `bat --diagnostic` says it is not available, and the test expects the diagnostic report (BAT_PAGER=...)",
    },
  },
  {
    name: "exa",
    source: "rust-exa",
    exercises: "unit tests; libgit2 through pkg-config (libgit2-sys) and a build script reading the date",
    adjustments: [],
  },
  {
    name: "cxx",
    source: "rust-cxx",
    exercises: "C++ through cc (the crate's own build script), proc macros (cxxbridge-macro), trybuild UI tests running a nested cargo",
    adjustments: [],
  },
];

/** The one program `--ci` runs end to end. */
export const CI_PROGRAM = "exa";

export function findProgram(name: string): Program {
  const p = PROGRAMS.find((q) => q.name === name || q.source === name);
  if (!p) throw new Error(`unknown program ${name}; known: ${PROGRAMS.map((q) => q.name).join(", ")}`);
  return p;
}
