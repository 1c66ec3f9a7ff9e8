import { build } from "esbuild";
const entry = process.argv[2];
const r = await build({ absWorkingDir: "/work/main", entryPoints: [entry], bundle: true, write: false, metafile: true, format: "esm", platform: "node", external: ["isolated-vm","dockerode"], outdir: "/tmp/x", splitting: true });
const inputs = r.metafile.inputs;
const seen = new Set([entry]); const q=[entry];
while (q.length) { const f=q.shift(); for (const im of inputs[f]?.imports ?? []) { if (im.kind !== "import-statement" || im.external) continue; if (!seen.has(im.path)) { seen.add(im.path); q.push(im.path);} } }
const rows = [...seen].map(f => [f.replace(/node_modules\/([^/]+)\/.*/, "nm:$1"), inputs[f]?.bytes ?? 0]);
const agg = new Map(); for (const [k,b] of rows) agg.set(k,(agg.get(k)||0)+b);
const total = [...agg.values()].reduce((a,b)=>a+b,0);
console.log(entry, "total", total);
[...agg].sort((a,b)=>b[1]-a[1]).slice(0, +process.argv[3] || 15).forEach(([k,b])=>console.log(String(b).padStart(8), k));
