// `npm run build`, second step: bundle the compiled dist/ into dist/bundle/ with esbuild, so a command
// starts by reading a few files instead of resolving and compiling ~150 ES modules (start-up is part of
// every run's CPU: bench/RESULTS.md). Three entries, each a process wsload starts:
//   wsload.js          the CLI (bin/wsload.js imports its `main`)
//   worker.js          a load worker process (src/workers/coordinator.ts forks ./worker.js next to itself)
//   cluster-worker.js  a `serve --workers N` process (src/server/cluster.ts forks ./cluster-worker.js)
// Code splitting keeps each command's lazy imports lazy (one chunk per command's code). The library
// entry (dist/index.js, package.json "exports") stays tsc's unbundled output.
// External: bufferutil (native prebuilds found at run time), utf-8-validate (optional, ws asks for
// it), tsx (loads TypeScript processors; registers file-path-based loaders and is large).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });

/**
 * hdr-histogram-js ships its WebAssembly module deflated in base64 and inflates it with pako in JS at
 * every start (≈ 11 ms of cold JS, plus loading pako early). Inflate it once here instead and embed the
 * plain module: the bundle decodes it with Buffer (≈ 0.2 ms). Same bytes, so the same histograms.
 */
const hdrWasmPlugin = {
  name: 'hdr-wasm-inflated',
  setup(b) {
    const require = createRequire(`${root}package.json`);
    b.onLoad({ filter: /hdr-histogram-js[\\/]dist[\\/]wasm[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const call = 'pako.inflate(base64.toByteArray(generated_wasm_1.BINARY))';
      const uses = source.split(call).length - 1;
      if (uses !== 2) throw new Error(`hdr-histogram-js changed: expected 2 uses of \`${call}\` in ${args.path}, found ${uses}; update scripts/bundle.mjs`);
      const { BINARY } = require('hdr-histogram-js/dist/wasm/generated-wasm.js');
      const pako = require('pako');
      const base64 = require('base64-js');
      const wasm = Buffer.from(pako.inflate(base64.toByteArray(BINARY))).toString('base64');
      const patched = source.replaceAll(call, '__wsloadHdrWasm()')
        + `\nfunction __wsloadHdrWasm() { return new Uint8Array(Buffer.from(${JSON.stringify(wasm)}, 'base64')); }\n`;
      return { contents: patched, loader: 'js' };
    });
  },
};

await build({
  plugins: [hdrWasmPlugin],
  absWorkingDir: root,
  entryPoints: {
    wsload: 'dist/cli/main.js',
    worker: 'dist/workers/worker.js',
    'cluster-worker': 'dist/server/cluster-worker.js',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['bufferutil', 'utf-8-validate', 'tsx', 'tsx/*'],
  // CommonJS dependencies (ws, commander, hdr-histogram-js) call require() for Node's built-ins. Made on
  // first use: `createRequire` walks the node_modules paths (≈ 0.5 ms per chunk, most never need it).
  banner: { js: "import { createRequire as __wsloadCreateRequire } from 'node:module'; let __wsloadRequire; function require(id) { return (__wsloadRequire ??= __wsloadCreateRequire(import.meta.url))(id); }" },
  legalComments: 'none',
  logLevel: 'warning',
});
