// Copied by scripts/bundle.mjs to dist/bundle/load-cached.js. Runs one CommonJS bundle of wsload
// (dist/bundle/<name>.cjs) through vm.Script with V8's code cache: the first run of a command compiles
// the bundle and, at exit, saves the compiled code of every function it ran to <name>.cjs.<variant>.cache
// next to it; later runs of that command start from that cache instead of parsing and compiling again
// (Node 20 has no compile cache for modules of its own: module.enableCompileCache() is Node 22).
// V8 rejects a cache made by another V8 version or other V8 flags, and it is then made anew; as V8
// compares only the source's length, each cache is named by the bundle's content hash as well. Nothing here is required for correctness: no cache, an unreadable one or a read-only folder
// only cost the compile.
import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));

// The bundle's import() (user processors, tsx: src/scenario/processor.ts) comes here: code restored
// from a code cache loses vm.Script's importModuleDynamically, a real module keeps its own import().
globalThis[Symbol.for('wsload.import')] = (specifier) => import(specifier);

/**
 * Run dist/bundle/<name>.cjs and return its exports. `variant` names its cache (the command it runs);
 * `hash` is the bundle's content hash, written into the stub by the build: V8 checks only the source's
 * length before it trusts a cache, so a cache is kept under the hash of the exact source it was made from.
 */
export function load(name, variant, hash) {
  const file = join(here, `${name}.cjs`);
  const prefix = `${name}.cjs.${variant ?? 'default'}.`;
  const cacheFile = join(here, `${prefix}${hash}.cache`);
  const source = readFileSync(file, 'utf8');
  let cachedData;
  if (process.env.WSLOAD_NO_CODE_CACHE === undefined) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // None yet: this run makes it.
    }
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    ...(cachedData !== undefined ? { cachedData } : {}),
    // Should an import() be compiled fresh, Node's own loader; from the cache it needs the hook above.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, here);
  if (process.env.WSLOAD_NO_CODE_CACHE === undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    // At exit, so that the cache holds every function this command ran, not only the top level.
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile); // atomic: worker processes may write theirs at the same time
        // Caches of an earlier build of this bundle (an update in place) are of no use any more.
        for (const f of readdirSync(here)) {
          if (f.startsWith(prefix) && f.endsWith('.cache') && f !== `${prefix}${hash}.cache`) unlinkSync(join(here, f));
        }
      } catch {
        // A read-only install or a full disk: run without a cache (and leave no half-written file).
        try {
          unlinkSync(tmp);
        } catch {
          // Never created.
        }
      }
    });
  }
  return module.exports;
}
