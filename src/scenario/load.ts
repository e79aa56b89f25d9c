/**
 * `loadScript`: reads an Artillery v2 WebSocket script (YAML or JSON), applies the environment, checks
 * everything, reads CSV payloads, imports the processor and checks every function it is asked for.
 * Returns an immutable plan, or throws a ScriptError that carries every problem found.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { WsloadError } from '../errors.js';
import { Checker } from './checker.js';
import { CsvError, parseCsv } from './payload.js';
import { importProcessor, ProcessorLoadError } from './processor.js';
import { ProblemList, ScriptError, sortProblems } from './problems.js';
import { parseSource } from './source.js';
import { didYouMean } from './suggest.js';
import type { LoadOptions, PayloadPlan, ProcessorPlan, ScriptPlan } from './types.js';
import { validateScript, type Draft } from './validate.js';

const SCRIPT_EXTENSIONS = new Set(['.yml', '.yaml', '.json']);

/**
 * Loads and checks a script. `file` is used as given in every message (so relative paths stay short);
 * relative paths inside the script (payload, processor) are resolved against the script's directory.
 */
export async function loadScript(file: string, opts: LoadOptions = {}): Promise<ScriptPlan> {
  const ext = extname(file).toLowerCase();
  if (!SCRIPT_EXTENSIONS.has(ext)) {
    throw new WsloadError('WSLOAD_SCRIPT', `${file}: wsload reads YAML (.yml, .yaml) or JSON (.json) scripts`, {
      hint: ext === '.js' || ext === '.ts' ? 'JavaScript and TypeScript test definitions are not supported; write the script in YAML' : undefined,
    });
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WsloadError('WSLOAD_SCRIPT', code === 'ENOENT' ? `script not found: ${file}` : `cannot read ${file}: ${(err as Error).message}`);
  }
  return loadScriptText(text, file, opts);
}

/** Same as loadScript, for text already in memory (tests, stdin). `file` names it in messages. */
export async function loadScriptText(text: string, file: string, opts: LoadOptions = {}): Promise<ScriptPlan> {
  const problems = new ProblemList();
  const source = parseSource(text, file);
  problems.items.push(...source.problems);
  if (problems.errorCount > 0) throw new ScriptError(file, problems.items);

  const ck = new Checker(source.locator, problems);
  const draft = validateScript(source.data, ck, {
    file,
    ...(opts.environment !== undefined ? { environment: opts.environment } : {}),
    ...(opts.target !== undefined ? { target: opts.target } : {}),
    env: opts.env ?? process.env,
  });

  const payloads = await readPayloads(draft, problems);
  const processor = opts.skipProcessor ? undefined : await loadProcessor(draft, problems);
  checkFunctionRefs(draft, processor, problems, opts.skipProcessor === true);

  if (problems.errorCount > 0) throw new ScriptError(file, problems.items);

  const plan: ScriptPlan = {
    file,
    path: resolve(file),
    ...(draft.environment !== undefined ? { environment: draft.environment } : {}),
    ...(draft.target !== undefined ? { target: draft.target } : {}),
    phases: draft.phases,
    totalDurationMs: draft.totalDurationMs,
    variables: draft.variables,
    payloads,
    ...(processor && processor !== 'failed' ? { processor } : {}),
    timeoutMs: draft.timeoutMs,
    ...(draft.thinkJitter ? { thinkJitter: draft.thinkJitter } : {}),
    wsload: draft.wsload,
    ...(draft.ensure !== undefined ? { ensure: draft.ensure } : {}),
    ...(draft.plugins !== undefined ? { plugins: draft.plugins } : {}),
    thresholds: draft.thresholds,
    scenarios: draft.scenarios,
    totalWeight: draft.totalWeight,
    warnings: sortProblems(problems.items),
  };
  const keep = new Set<unknown>();
  if (plan.processor) {
    keep.add(plan.processor.module);
    for (const fn of Object.values(plan.processor.functions)) keep.add(fn);
  }
  return deepFreeze(plan, keep);
}

async function readPayloads(draft: Draft, problems: ProblemList): Promise<PayloadPlan[]> {
  const out: PayloadPlan[] = [];
  for (const spec of draft.payloads) {
    let text: string;
    try {
      text = await readFile(spec.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.error(spec.pathLocation, code === 'ENOENT' ? `payload file '${spec.displayPath}' not found` : `cannot read payload file '${spec.displayPath}': ${(err as Error).message}`);
      continue;
    }
    let rows: unknown[][];
    try {
      rows = parseCsv(text, { delimiter: spec.delimiter, cast: spec.cast, skipEmptyLines: spec.skipEmptyLines, skipHeader: spec.skipHeader });
    } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      problems.error({ file: spec.displayPath, line: err.line, col: err.col }, err.message);
      continue;
    }
    if (rows.length === 0) problems.warn(spec.pathLocation, `payload file '${spec.displayPath}' has no rows`);
    out.push({
      path: spec.path,
      fields: spec.fields,
      order: spec.order,
      loadAll: spec.loadAll,
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      rows,
      location: spec.location,
    });
  }
  return out;
}

async function loadProcessor(draft: Draft, problems: ProblemList): Promise<ProcessorPlan | 'failed' | undefined> {
  const p = draft.processor;
  if (!p) return undefined;
  try {
    const loaded = await importProcessor(p.path);
    return { path: p.path, spec: p.spec, functions: loaded.functions, module: loaded.module };
  } catch (err) {
    if (!(err instanceof ProcessorLoadError)) throw err;
    problems.error(p.location, `processor '${p.spec}' ${err.message === 'file not found' ? 'not found' : err.message}`);
    return 'failed';
  }
}

function checkFunctionRefs(draft: Draft, processor: ProcessorPlan | 'failed' | undefined, problems: ProblemList, skipped: boolean): void {
  if (skipped || processor === 'failed') return;
  for (const ref of draft.functionRefs) {
    if (!processor) {
      problems.error(ref.location, `function '${ref.name}' is used but config.processor is not set`, "add processor: './processor.js' to config");
      continue;
    }
    const fn = processor.functions[ref.name];
    if (typeof fn === 'function') continue;
    const names = Object.keys(processor.functions);
    const hint =
      didYouMean(ref.name, names) ??
      (names.length === 0 ? 'it exports no functions' : `it exports ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}`);
    problems.error(ref.location, `function '${ref.name}' is not exported by ${processor.spec}`, hint);
  }
}

/** Freezes the plan all the way down, except what must stay live (byte buffers, regexps, user code). */
function deepFreeze<T>(value: T, keep: Set<unknown>, seen = new Set<unknown>()): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value;
  if (keep.has(value) || seen.has(value)) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp) return value;
  seen.add(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key], keep, seen);
  return Object.freeze(value);
}
