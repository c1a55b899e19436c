// Copies the dashboard's front-end files from node_modules into static/lib/, where
// static/static.go embeds them, so that building and running xgate needs no npm.
// Run with `npm run assets` after `npm ci` and commit static/lib/.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'static', 'lib');

// Each package: the files the dashboard loads (node_modules path → name in static/lib) and
// its licence, which travels with the copy.
const packages = [
  {
    name: 'htmx.org',
    files: { 'dist/htmx.min.js': 'htmx.min.js' },
    license: 'LICENSE',
  },
  {
    name: '@picocss/pico',
    files: { 'css/pico.min.css': 'pico.min.css' },
    license: 'LICENSE.md',
  },
  {
    name: 'uplot',
    files: { 'dist/uPlot.iife.min.js': 'uplot.iife.min.js', 'dist/uPlot.min.css': 'uplot.min.css' },
    license: 'LICENSE',
  },
];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const versions = [];
for (const p of packages) {
  const dir = join(root, 'node_modules', p.name);
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const [from, to] of Object.entries(p.files)) {
    copyFileSync(join(dir, from), join(out, to));
  }
  const slug = p.name.replace(/^@/, '').replace(/\//g, '-');
  copyFileSync(join(dir, p.license), join(out, `LICENSE.${slug}`));
  versions.push(`${p.name} ${version}: ${Object.values(p.files).join(', ')}`);
}
writeFileSync(join(out, 'VERSIONS'), versions.join('\n') + '\n');
console.log(`static/lib: ${readdirSync(out).length} files`);
for (const v of versions) console.log('  ' + v);
