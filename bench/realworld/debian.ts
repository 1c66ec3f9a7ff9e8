/**
 * Debian's side of `scripts/realworld`: source packages and the crates they build against.
 *
 * - `apt-get source` needs a `deb-src` entry; when `apt-cache showsrc` knows nothing of a package,
 *   one is added (SRC_LIST, the archive and suites of the machine's own `deb` entry) and the
 *   lists are updated.
 * - Build dependencies are the source's Build-Depends without the toolchain and packaging tools
 *   (`apt-get build-dep` would install Debian's rustc 1.63 and cargo into /usr/bin, next to
 *   rustup's), plus `librust-<name>-dev` for each dev-dependency of the Cargo.toml: Debian's
 *   Build-Depends often leave those out. `apt-get satisfy` resolves both at once.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";

const SRC_LIST = "/etc/apt/sources.list.d/cratebox-realworld-src.sources";
const SRC_ENTRY = `# Added by cratebox's scripts/realworld: source packages for apt-get source.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

/** Packages of Build-Depends that are the toolchain or Debian packaging, not what the code needs. */
const NOT_NEEDED = /^(debhelper|dh-|cargo|rustc|libstd-rust-dev|asciidoc|xsltproc|docbook|pandoc|bash-completion|help2man)\b/;

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };

function showsrc(pkg: string): string {
  const r = spawnSync("apt-cache", ["showsrc", pkg], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

/** Makes `apt-get source` work: adds a deb-src entry when none serves `pkg`. */
function ensureDebSrc(pkg: string, log: (s: string) => void): void {
  if (showsrc(pkg).includes(`Package: ${pkg}`)) return;
  if (!existsSync(SRC_LIST)) {
    log(`no deb-src entry serves ${pkg}: adding ${SRC_LIST}`);
    writeFileSync(SRC_LIST, SRC_ENTRY);
  }
  execFileSync("apt-get", ["update", "-q"], { stdio: ["ignore", "ignore", "inherit"], env: APT_ENV });
  if (!showsrc(pkg).includes(`Package: ${pkg}`)) throw new Error(`apt-cache showsrc ${pkg}: unknown even with deb-src`);
}

/** Build-Depends of the newest source version, less the toolchain and packaging tools. */
function buildDepends(pkg: string): string[] {
  const first = showsrc(pkg).split("\n\n")[0] ?? "";
  const m = /^Build-Depends: (.*)$/m.exec(first);
  if (!m) return [];
  return m[1]!
    .split(",")
    .map((d) => d.replace(/<[^>]*>/g, "").trim())
    .filter((d) => d && !NOT_NEEDED.test(d));
}

/** Unpacks the source package once into `into/`; returns the unpacked directory. */
export function fetchSource(pkg: string, into: string, log: (s: string) => void): string {
  mkdirSync(into, { recursive: true });
  const find = () => readdirSync(into, { withFileTypes: true }).find((e) => e.isDirectory() && e.name.startsWith(`${pkg}-`));
  let dir = find();
  if (!dir) {
    ensureDebSrc(pkg, log);
    log(`apt-get source ${pkg}`);
    execFileSync("apt-get", ["source", "-q", pkg], { cwd: into, stdio: ["ignore", "ignore", "inherit"], env: APT_ENV });
    dir = find();
    if (!dir) throw new Error(`apt-get source ${pkg} unpacked nothing in ${into}`);
  }
  return path.join(into, dir.name);
}

/** Names of every dev-dependency (also target-specific ones) in a Cargo.toml. */
function devDependencies(manifest: string): string[] {
  const doc = parseToml(readFileSync(manifest, "utf8")) as Record<string, unknown>;
  const names = new Set<string>();
  const add = (table: unknown) => {
    if (table && typeof table === "object")
      for (const [k, v] of Object.entries(table)) {
        const renamed = v && typeof v === "object" && "package" in v ? String((v as { package: unknown }).package) : k;
        names.add(renamed);
      }
  };
  add(doc["dev-dependencies"]);
  const targets = doc.target;
  if (targets && typeof targets === "object") for (const t of Object.values(targets)) add((t as Record<string, unknown>)["dev-dependencies"]);
  return [...names].sort();
}

/** Debian's package name for a crate's sources: `librust-<name, '_' as '-', lower case>-dev`. */
function debianCratePackage(crate: string): string {
  return `librust-${crate.toLowerCase().replace(/_/g, "-")}-dev`;
}

/** Installs what the package builds and tests against; names dev-dependencies Debian lacks. */
export function installDependencies(pkg: string, sourceDir: string, log: (s: string) => void): { missing: string[] } {
  const deps = buildDepends(pkg);
  const missing: string[] = [];
  for (const crate of devDependencies(path.join(sourceDir, "Cargo.toml"))) {
    const name = debianCratePackage(crate);
    const policy = spawnSync("apt-cache", ["policy", name], { encoding: "utf8" }).stdout;
    if (/Candidate: (?!\(none\))/.test(policy)) deps.push(name);
    else missing.push(crate);
  }
  if (missing.length) log(`${pkg}: dev-dependencies Debian does not package: ${missing.join(", ")}`);
  log(`${pkg}: apt-get satisfy (${deps.length} build and dev dependencies)`);
  execFileSync("apt-get", ["satisfy", "-y", "-q", "--no-install-recommends", deps.join(", ")], {
    stdio: ["ignore", "ignore", "inherit"],
    env: APT_ENV,
  });
  return { missing };
}
