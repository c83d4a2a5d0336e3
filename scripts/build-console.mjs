// Bundles the operator console (apps/console) into dist/console: index.html plus content-hashed assets, all
// served by the api role at /console. Nothing is fetched at run time (no CDN): preact and chart.js are bundled.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'apps/console');
const out = path.join(root, 'dist/console');

await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'assets'), { recursive: true });
const result = await build({
  entryPoints: { console: path.join(src, 'src/main.tsx'), style: path.join(src, 'src/console.css') },
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: path.join(src, 'tsconfig.json'),
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const js = outputs.find((f) => /^console-.*\.js$/.test(f));
const css = outputs.find((f) => /^style-.*\.css$/.test(f));
if (!js || !css) throw new Error(`console build: missing outputs in ${outputs.join(', ')}`);
const html = (await readFile(path.join(src, 'index.html'), 'utf8')).replace('%JS%', js).replace('%CSS%', css);
await writeFile(path.join(out, 'index.html'), html);
