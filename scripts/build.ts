/**
 * `npm run build`: the entry points bundled by rolldown into dist/, then the shims' native client
 * (scripts/build-client.ts). Type checking is tsc's (`npm run typecheck`).
 *
 * Why a bundle: cratebox runs on every cargo command a developer types, and Node spends most of
 * a no-op's start resolving and reading module files. The engine's client, the policy
 * evaluator, the egress proxy and the review load only when a run needs them (dynamic imports,
 * each a chunk of its own), and everything a `cratebox cargo ...` start loads is one chunk,
 * `chunks/start-<hash>.js`: Node pays for each module file it loads (resolving, reading, the
 * compile cache's look-up, linking), about 0.5 ms on this project's machine, and esbuild, used
 * before, had no say over its chunks: a no-op loaded 42 of them (issue 13: about 15 ms of its
 * start).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import path from "node:path";
import { type ChunkingContext, type InputOptions, type OutputOptions, type Plugin, rolldown } from "rolldown";
import { toBuildScriptShim } from "../src/core/shim.ts";

/**
 * Node's built-in modules, imported by this code's `import ... from "node:x"`, come through
 * `process.getBuiltinModule` instead. An ESM import of a built-in reads every export of it, and
 * some are lazy getters that load more of Node: `node:fs`'s `promises` loads the promises API,
 * readline and the REPL's history. Only data properties are exported: an import of a getter's
 * name (`promises` of `node:fs`) fails the build, which says where; import `node:fs/promises`
 * then. Bundled libraries' `require` of a built-in is left as it is.
 */
const builtinsWithoutGetters: Plugin = {
  name: "builtins-without-getters",
  resolveId(source, _importer, extra) {
    if (!source.startsWith("node:") || !isBuiltin(source) || extra.kind === "require-call") return null;
    return { id: `\0builtin:${source}`, moduleSideEffects: false };
  },
  load(id) {
    if (!id.startsWith("\0builtin:")) return null;
    const name = id.slice("\0builtin:".length);
    const descriptors = Object.getOwnPropertyDescriptors(process.getBuiltinModule(name));
    const names = Object.keys(descriptors).filter((k) => "value" in descriptors[k]! && k !== "default" && /^[A-Za-z_$][\w$]*$/.test(k));
    return `const builtin = process.getBuiltinModule(${JSON.stringify(name)});\nexport default builtin;\nexport const { ${names.join(", ")} } = builtin;\n`;
  },
};

const root = path.resolve(import.meta.dirname, "..");
const src = (f: string) => path.join(root, "src", f);
/** What `cratebox cargo ...` loads before cargo starts (cli/cratebox.ts imports them in turn). */
const START = ["cli/early.ts", "cli/main.ts", "runtime/run-cargo.ts"].map(src);

/** Every module the roots import statically, the roots included. */
function staticClosure(ctx: ChunkingContext, roots: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    const info = ctx.getModuleInfo(id);
    if (!info) throw new Error(`scripts/build.ts: ${path.relative(root, id)} is not in the bundle (renamed? update START)`);
    seen.add(id);
    for (const dep of info.importedIds) visit(dep);
  };
  for (const r of roots) visit(r);
  return seen;
}
let start: Set<string> | undefined;
function startChunk(id: string, ctx: ChunkingContext): string | null {
  start ??= staticClosure(ctx, START);
  return start.has(id) ? "start" : null;
}

const shared = {
  cwd: root,
  platform: "node",
  tsconfig: path.join(root, "tsconfig.json"),
  // Native or heavy and needed only sometimes: loaded from node_modules when used.
  external: ["isolated-vm", "dockerode"],
  plugins: [builtinsWithoutGetters],
} satisfies InputOptions;
const output = {
  dir: path.join(root, "dist"),
  format: "esm",
  entryFileNames: "[name].js",
  sourcemap: true,
  // Node decodes a module's source from UTF-8 on every start, and one character beyond ASCII
  // makes V8 hold all of it as two-byte text; the comments are in the source maps' sources.
  charset: "ascii",
  comments: { legal: true, annotation: false, jsdoc: false },
} satisfies OutputOptions;

rmSync(path.join(root, "dist"), { recursive: true, force: true });
// The CLI: its commands' code split into chunks that load when used.
const cli = await rolldown({ ...shared, input: { "cli/cratebox": src("cli/cratebox.ts"), "cli/cargo-cratebox": src("cli/cargo-cratebox.ts") } });
await cli.write({ ...output, chunkFileNames: "chunks/[name]-[hash].js", codeSplitting: { groups: [{ name: startChunk, debugName: "start" }] } });
await cli.close();
// Programs of their own, one file each: the egress relay is copied alone into a sandbox, and
// the Node client (a step's, when the native one is missing) and the policy evaluator load
// nothing of the CLI's.
for (const entry of ["shims/client", "shims/egress-relay", "runtime/policy-child"]) {
  const one = await rolldown({ ...shared, input: { [entry]: src(`${entry}.ts`) } });
  await one.write({ ...output, codeSplitting: false });
  await one.close();
}
// The build-script shim as a file: the native front (native/client/src/bin/cratebox-front.rs)
// puts it where the RUSTC_WRAPPER copies it from, and checks compiled build scripts against it.
writeFileSync(path.join(root, "dist/shims/build-script-shim"), toBuildScriptShim(), { mode: 0o755 });
// The build's id: a digest of every bundle. Caches of what this code computed (the validated
// profiles, the policies' decisions: runtime/cache-files.ts) are keyed on it, so a rebuilt
// cratebox never takes them.
const digest = createHash("sha256");
const dist = path.join(root, "dist");
for (const f of readdirSync(dist, { recursive: true, encoding: "utf8" })
  .filter((n) => n.endsWith(".js"))
  .sort()) {
  digest.update(`${f}\0`).update(readFileSync(path.join(dist, f)));
}
writeFileSync(path.join(dist, "build-id"), `${digest.digest("hex")}\n`);
const client = spawnSync(process.execPath, [path.join(root, "scripts/build-client.ts")], { stdio: "inherit" });
process.exit(client.status ?? 1);
