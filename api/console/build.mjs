// Builds the console into dist/ (never committed): types from the OpenAPI document, a type
// check, the bundle (esbuild), MapLibre's worker, the documentation pages' scripts and styles
// (Scalar, Swagger UI) and a gzip copy of every text file. `make install` runs it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const modules = join(here, "node_modules");
const document = join(here, "..", "..", "mobile_contract", "v1", "openapi.json");

function run(command, args) {
  const done = spawnSync(command, args, { cwd: here, stdio: "inherit" });
  if (done.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${done.status})`);
}

function hashed(name, content) {
  const digest = createHash("sha256").update(content).digest("hex").slice(0, 8).toUpperCase();
  const dot = name.indexOf(".");
  return `${name.slice(0, dot)}-${digest}${name.slice(dot)}`;
}

// 1. the API's types, from the committed document
run(join(modules, ".bin", "openapi-typescript"), [document, "--output", join("src", "api-types.ts"), "--silent"]);
// 2. the type check
run(join(modules, ".bin", "tsc"), ["--noEmit", "-p", "tsconfig.json"]);

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "docs"), { recursive: true });

// 3. the bundle: one script and one stylesheet, named by their content
const built = await esbuild.build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "linked",
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  splitting: true,  // MapLibre in a chunk of its own, loaded while the map's data is asked for
  outdir: dist,
  metafile: true,
  logLevel: "warning",
});
// the entry itself (the pages it imports lazily are entry points of their own in the metafile)
const outputs = built.metafile.outputs;
const outputOf = (source) => Object.keys(outputs).find((p) => outputs[p].entryPoint?.endsWith(source));
const entry = outputOf("src/main.ts");
const js = entry.split("/").pop();
const css = outputs[entry].cssBundle.split("/").pop();
// what the page fetches at once rather than after the entry is parsed: the chunks the entry
// imports, and the map page (the landing page of most roles, and captains' next) with
// MapLibre. The other pages are fetched when they are opened: preloading all of them made
// the map's own files and first API calls wait for free connections.
const preload = new Set();
const visit = (path) => {
  for (const i of outputs[path].imports) {
    if (i.kind !== "import-statement" || preload.has(i.path)) continue;
    preload.add(i.path);
    visit(i.path);
  }
};
visit(entry);
const mapPage = outputOf("src/map.ts");
preload.add(mapPage);
visit(mapPage);
// the largest first: MapLibre's chunk is on the way to the map's first tiles
const chunks = [...preload].sort((a, b) => outputs[b].bytes - outputs[a].bytes).map((p) => p.split("/").pop());

// 4. MapLibre's worker, loaded by the page from this server (the policy allows no blob: script)
const workerSource = join(modules, "maplibre-gl", "dist", "maplibre-gl-worker.mjs");
const worker = hashed("maplibre-gl-worker.mjs", readFileSync(workerSource));
copyFileSync(workerSource, join(dist, worker));

// 5. the documentation pages' scripts and styles (api/controllers/console.py names them)
const docs = {
  "scalar-api-reference.js": ["@scalar", "api-reference", "dist", "browser", "standalone.js"],
  "scalar-style.css": ["@scalar", "api-reference", "dist", "style.css"],
  "swagger-ui-bundle.js": ["swagger-ui-dist", "swagger-ui-bundle.js"],
  "swagger-ui-standalone-preset.js": ["swagger-ui-dist", "swagger-ui-standalone-preset.js"],
  "swagger-ui.css": ["swagger-ui-dist", "swagger-ui.css"],
};
for (const [name, parts] of Object.entries(docs)) copyFileSync(join(modules, ...parts), join(dist, "docs", name));

// 6. the page
const page = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("{{JS}}", `/console/${js}`)
  .replace("{{CSS}}", `/console/${css}`)
  .replace("{{WORKER}}", `/console/${worker}`)
  .replace(
    "{{PRELOAD}}",
    [
      ...chunks.map((n) => `<link rel="modulepreload" href="/console/${n}">`),
      // MapLibre's worker, into the HTTP cache (its name changes with its content) before
      // the map starts it
      `<link rel="preload" href="/console/${worker}" as="fetch" crossorigin>`,
    ].join("\n"),
  );
writeFileSync(join(dist, "index.html"), page);

// 7. gzip copies, sent to browsers that accept them
const TEXT = /\.(html|js|mjs|css|json|svg|txt)$/;
let raw = 0;
let packed = 0;
function pack(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) pack(path);
    else if (TEXT.test(entry)) {
      const content = readFileSync(path);
      const gz = gzipSync(content, { level: 9 });
      writeFileSync(`${path}.gz`, gz);
      if (dir === dist) {
        raw += content.length;
        packed += gz.length;
      }
    }
  }
}
pack(dist);
console.log(`console built into ${dist}: ${js}, ${css}, ${worker} (${(raw / 1024).toFixed(0)} KiB, ${(packed / 1024).toFixed(0)} KiB gzip)`);
