// Builds the front end into the directory given as the first argument
// (make web: ../app/web/dist, which is committed and embedded in the
// binary): one bundle per page with a content hash in its name, and the
// pages' HTML pointing at them. The output depends only on the sources and
// the locked package versions, so `make test` can rebuild and compare.
import * as esbuild from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const out = path.resolve(process.argv[2] ?? '../app/web/dist');
const pages = { dash: 'index.html', video: 'video.html' };

await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'assets'), { recursive: true });
const result = await esbuild.build({
  entryPoints: Object.keys(pages).map((name) => `src/${name}.js`),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

// Map each entry point to its hashed JS and CSS files.
const files = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const name = path.basename(meta.entryPoint, '.js');
  files[name] = { js: '/assets/' + path.basename(file), css: meta.cssBundle ? '/assets/' + path.basename(meta.cssBundle) : '' };
}
for (const [name, html] of Object.entries(pages)) {
  const src = await readFile(`src/${html}`, 'utf8');
  await writeFile(path.join(out, html), src.replaceAll('%JS%', files[name].js).replaceAll('%CSS%', files[name].css));
}
console.log(Object.entries(files).map(([n, f]) => `${n}: ${f.js} ${f.css}`).join('\n'));
