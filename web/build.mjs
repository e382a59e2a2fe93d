// Bundles the web client (web/src) into dist/web: hashed assets under /assets, index.html
// pointing at them, the service worker at /sw.js, and a gzipped copy of each text file (the
// gateway serves it to browsers that accept gzip). Runs in `npm run build` (so on `npm start`);
// no CDN, no network.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { analyzeMetafile, build } from 'esbuild';
import sharp from 'sharp';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const target = ['es2020', 'chrome90', 'firefox90', 'safari14'];

/**
 * The protocol's reply and frame schemas as JSON Schema, generated from the zod schemas of
 * src/protocol (the one source of truth) so that the browser checks them without zod.
 */
async function protocolSchemas() {
  const tmp = join(root, 'node_modules/.cache/banyan-web/schemas.mjs');
  await build({
    stdin: {
      contents: `
        import { z } from 'zod';
        import { httpReplies } from './src/protocol/http-replies.ts';
        import { errorBodySchema, serverFrameSchema } from './src/protocol/server-frames.ts';
        const all = z.object({ frame: serverFrameSchema, errorBody: errorBodySchema, ...httpReplies });
        const json = z.toJSONSchema(all, { reused: 'ref', unrepresentable: 'throw' });
        // Bounds that only restate JavaScript's safe integers: room in every bundle, no check.
        const lean = (node) => {
          if (!node || typeof node !== 'object') return;
          if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
          if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
          for (const value of Object.values(node)) lean(value);
        };
        lean(json);
        const { frame, errorBody, ...replies } = json.properties;
        export default { $defs: json.$defs ?? {}, frame, errorBody, replies };`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: tmp,
    logLevel: 'warning',
  });
  const schemas = (await import(`${pathToFileURL(tmp).href}?t=${Date.now()}`)).default;
  rmSync(tmp);
  return schemas;
}
const schemas = await protocolSchemas();

/** The SDK's checks without zod: src/client/checks.ts becomes web/src/checks.ts, with the generated schemas. */
const browserChecks = {
  name: 'browser-checks',
  setup(b) {
    b.onResolve({ filter: /^\.\/checks\.js$/ }, (args) =>
      args.importer.startsWith(join(root, 'src/client')) ? { path: join(root, 'web/src/checks.ts') } : undefined,
    );
    b.onResolve({ filter: /^banyan:protocol-schemas$/ }, () => ({ path: 'schemas', namespace: 'banyan' }));
    b.onLoad({ filter: /.*/, namespace: 'banyan' }, () => ({ contents: JSON.stringify(schemas), loader: 'json' }));
    // Nothing in the browser bundle may pull zod in: fail the build instead.
    b.onResolve({ filter: /^zod(\/|$)/ }, (args) => ({ errors: [{ text: `zod imported by ${args.importer}` }] }));
  },
};

const hashed = (name, ext, body) => `${name}-${createHash('sha256').update(body).digest('hex').slice(0, 8).toUpperCase()}${ext}`;

// Icons (installable app): rendered from one SVG.
const iconSvg = readFileSync(join(root, 'web/icon.svg'));
const icons = [];
for (const [size, purpose] of [
  [192, 'any'],
  [512, 'any'],
  [512, 'maskable'],
]) {
  const png = await sharp(iconSvg, { density: 72 * (size / 96) })
    .resize(size, size)
    .flatten(purpose === 'maskable' ? { background: '#1f5f3f' } : false)
    .png()
    .toBuffer();
  const name = hashed(`icon-${size}${purpose === 'maskable' ? '-maskable' : ''}`, '.png', png);
  writeFileSync(join(out, 'assets', name), png);
  icons.push({ src: `/assets/${name}`, sizes: `${size}x${size}`, type: 'image/png', purpose });
}
const manifest = JSON.stringify({
  name: 'Banyan',
  short_name: 'Banyan',
  description: 'Community chat you can run yourself.',
  start_url: '/',
  scope: '/',
  display: 'standalone',
  background_color: '#f6f7f4',
  theme_color: '#1f5f3f',
  icons,
});
const manifestName = hashed('manifest', '.webmanifest', manifest);
writeFileSync(join(out, 'assets', manifestName), manifest);

const result = await build({
  entryPoints: [join(root, 'web/src/main.ts')],
  bundle: true,
  format: 'esm',
  target,
  minify: true,
  sourcemap: 'linked',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  // Screens past the first (a conversation, a community, forms) load when opened.
  splitting: true,
  metafile: true,
  plugins: [browserChecks],
  logLevel: 'warning',
});

// WEB_ANALYZE=1 node web/build.mjs: what takes room in the bundle.
if (process.env.WEB_ANALYZE) console.log(await analyzeMetafile(result.metafile));
const outputs = Object.entries(result.metafile.outputs);
const [entryPath, entry] = outputs.find(([, o]) => o.entryPoint === 'web/src/main.ts') ?? [];
if (!entry) throw new Error('web build made no main script');
const asset = (path) => `/assets/${basename(path)}`;
const appJs = asset(entryPath);
const appCss = asset(entry.cssBundle);
/** What the entry imports at once: preloaded with it, rather than a round trip later. */
const preloads = entry.imports.filter((i) => i.kind === 'import-statement').map((i) => asset(i.path));
const scripts = outputs.filter(([p]) => p.endsWith('.js')).map(([p]) => asset(p));
const shell = ['/', ...scripts, appCss, `/assets/${manifestName}`, ...icons.map((i) => i.src)];
const html = readFileSync(join(root, 'web/index.html'), 'utf8')
  .replace('%APP_JS%', appJs)
  .replace('%PRELOADS%', preloads.map((src) => `<link rel="modulepreload" href="${src}" />`).join('\n    '))
  .replace('%APP_CSS%', appCss)
  .replace('%MANIFEST%', `/assets/${manifestName}`)
  .replaceAll('%ICON%', icons[0].src);
writeFileSync(join(out, 'index.html'), html);

// The service worker keeps one unhashed URL (/sw.js): browsers check it for updates themselves.
// It knows the shell of this build, to cache it for offline use.
await build({
  entryPoints: [join(root, 'web/src/sw.ts')],
  bundle: true,
  format: 'iife',
  target,
  minify: true,
  outfile: join(out, 'sw.js'),
  define: {
    SHELL: JSON.stringify(shell),
    SHELL_VERSION: JSON.stringify(createHash('sha256').update(shell.join()).digest('hex').slice(0, 12)),
  },
  logLevel: 'warning',
});

for (const file of ['index.html', 'sw.js', ...scripts.map((s) => s.slice(1)), appCss.slice(1), `assets/${manifestName}`]) {
  const path = join(out, file);
  writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
}
