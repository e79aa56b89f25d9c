/**
 * Loads `config.processor`: a CommonJS or ES module, JavaScript or TypeScript. TypeScript goes through
 * tsx's scoped loader (registered lazily, once, only when a .ts processor is used); JavaScript through
 * Node's own `import()`. Exports are collected from named exports and from `module.exports` /
 * `export default` objects, so `module.exports = { fn }` and `export function fn` both work.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProcessorFunction } from './types.js';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

export class ProcessorLoadError extends Error {}

/**
 * Where the CLI's bundle loader (scripts/bundle-loader.mjs) leaves an `import()` of its own: the bundle
 * runs as a vm.Script from V8's code cache, and code restored from that cache cannot call `import()`
 * itself ("A dynamic import callback was not specified"). Elsewhere (the library, tests) plain `import()`.
 */
export const IMPORT_HOOK = Symbol.for('wsload.import');

function dynamicImport(specifier: string): Promise<unknown> {
  const hook = (globalThis as Record<symbol, unknown>)[IMPORT_HOOK];
  return typeof hook === 'function' ? (hook as (s: string) => Promise<unknown>)(specifier) : import(specifier);
}

type ScopedImport = (specifier: string, parentURL: string) => Promise<unknown>;
let tsImporter: Promise<ScopedImport> | undefined;

/** tsx's namespaced register: its hooks only apply to imports made through the returned `import`. */
async function typescriptImporter(): Promise<ScopedImport> {
  tsImporter ??= (async () => {
    let api: typeof import('tsx/esm/api');
    try {
      api = (await dynamicImport('tsx/esm/api')) as typeof import('tsx/esm/api');
    } catch (err) {
      tsImporter = undefined;
      throw new ProcessorLoadError(`a TypeScript processor needs the 'tsx' package, which could not be loaded: ${firstLine(err)}`);
    }
    const scoped = api.register({ namespace: 'wsload-processor' });
    return (specifier, parentURL) => scoped.import(specifier, parentURL) as Promise<unknown>;
  })();
  return tsImporter;
}

// Plain `import()`: Node applies its own CommonJS/ESM rules (package.json "type", .cjs/.mjs), and
// CommonJS `module.exports` arrives as `default` plus the names cjs-module-lexer detects.
const nativeImport = (specifier: string): Promise<unknown> => dynamicImport(specifier);

export interface LoadedProcessor {
  readonly module: unknown;
  readonly functions: Readonly<Record<string, ProcessorFunction>>;
}

/** Imports a processor module; throws ProcessorLoadError with a one-line reason. */
export async function importProcessor(absolutePath: string): Promise<LoadedProcessor> {
  if (!existsSync(absolutePath)) throw new ProcessorLoadError('file not found');
  const url = pathToFileURL(absolutePath).href;
  let mod: unknown;
  try {
    if (TS_EXTENSIONS.has(extname(absolutePath).toLowerCase())) {
      const importer = await typescriptImporter();
      mod = await importer(url, import.meta.url);
    } else {
      mod = await nativeImport(url);
    }
  } catch (err) {
    if (err instanceof ProcessorLoadError) throw err;
    throw new ProcessorLoadError(`could not be loaded: ${firstLine(err)}`);
  }
  return { module: mod, functions: collectFunctions(mod) };
}

/**
 * Named exports first, then the members of a default export (`module.exports = {…}` arrives as
 * `default`; a TypeScript file compiled as CommonJS nests an ES default one level deeper).
 */
export function collectFunctions(mod: unknown): Readonly<Record<string, ProcessorFunction>> {
  const out: Record<string, ProcessorFunction> = Object.create(null) as Record<string, ProcessorFunction>;
  const add = (obj: unknown): void => {
    if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return;
    for (const key of Object.keys(obj)) {
      if (key === 'default' || key in out) continue;
      const v = (obj as Record<string, unknown>)[key];
      if (typeof v === 'function') out[key] = v as ProcessorFunction;
    }
  };
  add(mod);
  const d = (mod as { default?: unknown } | null)?.default;
  if (d !== null && typeof d === 'object') {
    add(d);
    add((d as { default?: unknown }).default);
  }
  return Object.freeze(out);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  // esbuild (through tsx) puts the useful part on an "ERROR:" line.
  const esbuild = lines.find((l) => l.includes('ERROR:'));
  if (esbuild) {
    const m = /^(?:.*[\\/])?([^\\/]+?):(\d+):(\d+): ERROR: (.*)$/.exec(esbuild);
    return m ? `${m[4]} (${m[1]}:${m[2]}:${m[3]})` : esbuild.replace(/^.*?ERROR:\s*/, '');
  }
  return lines[0] ?? 'unknown error';
}
