// Builds ../../airflow_batchtasks/plugins/static/editor.js (one IIFE file, no source map, no
// timestamps: the same sources give the same bytes) and copies src/editor.css next to it.
// A header lists the npm packages inside the bundle with their versions and licenses.
import { build } from "esbuild";
import { readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "airflow_batchtasks", "plugins", "static");

const result = await build({
  entryPoints: [join(here, "src", "entry.js")],
  bundle: true,
  format: "iife",
  minify: true,
  target: ["es2020"],
  legalComments: "none",
  charset: "utf8",
  write: false,
  metafile: true,
  logLevel: "warning",
});

// the packages the bundle holds, from the inputs esbuild read
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs).sort()) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.split(sep).join("/"));
  if (!m || packages.has(m[1])) continue;
  const meta = JSON.parse(readFileSync(join(here, "node_modules", m[1], "package.json"), "utf8"));
  packages.set(m[1], `${m[1]}@${meta.version} (${meta.license})`);
}
const header = "/* Batch Tasks YAML editor: built by ui/editor (npm run build); do not edit.\n"
  + " * Bundled npm packages, each under its own license (see their package.json):\n"
  + [...packages.values()].sort().map((p) => ` *   ${p}\n`).join("")
  + " */\n";
const code = result.outputFiles[0].text;
writeFileSync(join(outDir, "editor.js"), header + code);
copyFileSync(join(here, "src", "editor.css"), join(outDir, "editor.css"));
console.log(`editor.js: ${(header.length + code.length)} bytes, ${packages.size} packages -> ${relative(process.cwd(), outDir)}`);
