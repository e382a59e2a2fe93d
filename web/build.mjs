// Bundles the web client (web/src) into dist/web: hashed assets under /assets, and index.html
// pointing at them. Runs in `npm run build` (so on `npm start`); no CDN, no network.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

// zod's `z` namespace carries every error-message locale (~260 KB); the client needs English.
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'zod')}`) ? { path: 'zod-locales', namespace: 'zod-english-only' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(join(root, 'node_modules/zod/v4/locales/en.js'))};`,
      resolveDir: root,
    }));
  },
};

const result = await build({
  entryPoints: [join(root, 'web/src/main.ts')],
  bundle: true,
  format: 'esm',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: true,
  sourcemap: 'linked',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  plugins: [englishOnly],
  logLevel: 'warning',
});

// The service worker keeps one unhashed URL (/sw.js): browsers check it for updates themselves.
await build({
  entryPoints: [join(root, 'web/src/sw.ts')],
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: true,
  outfile: join(out, 'sw.js'),
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const pick = (ext) => {
  const name = outputs.find((f) => f.endsWith(ext));
  if (!name) throw new Error(`web build made no ${ext} file`);
  return `/assets/${name}`;
};
const html = readFileSync(join(root, 'web/index.html'), 'utf8').replace('%APP_JS%', pick('.js')).replace('%APP_CSS%', pick('.css'));
writeFileSync(join(out, 'index.html'), html);
