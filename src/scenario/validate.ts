/**
 * Checks a parsed script and compiles it into a draft plan, collecting every problem with its place.
 * Pure apart from reading `env`: files (CSV payloads, the processor) are read by load.ts afterwards.
 *
 * The rules follow Artillery v2 (runner.js, engine_ws.ts, engine_util.js, util.js checkConfig): be
 * generous with what Artillery accepts, strict with typos (a key close to a known one is an error).
 */
import { thresholdsFromConfig, type Threshold } from '../thresholds/index.js';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { SourceLocation } from '../errors.js';
import { Checker, describe, isRecord } from './checker.js';
import { parseDurationMs } from './duration.js';
import { compileExpectation, type Expectation } from './matchers.js';
import type { PayloadOrder } from './payload.js';
import { formatPath, type Path } from './source.js';
import { didYouMean } from './suggest.js';
import { compileTemplate, hasTemplate, serializePayload, type Template, type TemplateIssue } from './templates.js';
import type {
  ConnectPlan,
  Jitter,
  LoopCount,
  LoopStep,
  PayloadPlan,
  PhaseSpec,
  ProcessorPlan,
  ScenarioPlan,
  ScriptPlan,
  StepPlan,
  VariableSpec,
  WsloadSettings,
} from './types.js';

/** A processor function named somewhere in the script; checked once the processor is imported. */
export interface FunctionRef {
  readonly name: string;
  readonly location: SourceLocation;
}

/** A payload file to read: everything but its rows, and how to parse them. */
export interface PayloadSpec extends Omit<PayloadPlan, 'rows'> {
  /** The path to show in messages (relative like the script path given). */
  readonly displayPath: string;
  readonly skipHeader: boolean;
  readonly delimiter: string;
  readonly cast: boolean;
  readonly skipEmptyLines: boolean;
  /** Where `path:` is written, for "file not found". */
  readonly pathLocation: SourceLocation;
}

/**
 * The plan as far as the script alone says it: load.ts reads the payloads' rows, imports the
 * processor and checks the functions named, then completes it into a `ScriptPlan`.
 */
export interface Draft extends Omit<ScriptPlan, 'file' | 'path' | 'payloads' | 'processor' | 'warnings'> {
  readonly payloads: readonly PayloadSpec[];
  readonly processor?: Pick<ProcessorPlan, 'spec' | 'path'> & { readonly location: SourceLocation };
  readonly functionRefs: readonly FunctionRef[];
}

export interface ValidateOptions {
  /** The script path as given, for resolving relative paths and showing them. */
  file: string;
  environment?: string;
  target?: string;
  env: NodeJS.ProcessEnv;
}

const TOP_KEYS = ['config', 'scenarios', 'before', 'after'];

/** Config keys wsload uses. */
const CONFIG_KEYS = [
  'target', 'phases', 'environments', 'variables', 'payload', 'processor', 'ws', 'tls', 'timeout',
  'defaults', 'ensure', 'plugins', 'engine', 'wsload', 'slo',
];
/** Config keys Artillery knows that wsload accepts and ignores. */
const CONFIG_IGNORED = ['http', 'socketio', 'engines', 'mode', 'statsInterval', 'includeFiles', 'bundling', 'apdex', 'expect', 'metrics-by-endpoint', 'cloud'];

const PHASE_KEYS = ['duration', 'arrivalRate', 'rampTo', 'arrivalCount', 'pause', 'maxVusers', 'name', 'mode'];
const PAYLOAD_KEYS = ['path', 'fields', 'order', 'skipHeader', 'delimiter', 'cast', 'skipEmptyLines', 'loadAll', 'name', 'options'];
const SCENARIO_KEYS = ['name', 'weight', 'engine', 'flow', 'beforeScenario', 'afterScenario'];
const SCENARIO_HTTP_KEYS = ['beforeRequest', 'afterResponse', 'onError'];

const STEP_KINDS = ['connect', 'send', 'sendBinary', 'wait', 'think', 'loop', 'function', 'log'] as const;
type StepKey = (typeof STEP_KINDS)[number];
/** Keys a step may carry next to its action. */
const STEP_SIBLINGS: Partial<Record<StepKey, readonly string[]>> = {
  loop: ['count', 'over', 'whileTrue', 'loopValue', 'loopElement'],
  think: ['jitter'],
};
const HTTP_STEPS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'parallel'];
const SOCKETIO_STEPS = ['emit'];

/** Variables every virtual user has (runner.js createContext) or a loop sets. */
const BUILTIN_VARS = [
  'target', '$environment', '$processEnvironment', '$env', '$testId', '$uuid', '$dirname', '$scenarioFile',
  '$loopCount', '$loopElement',
];
/** What config templates can see: they are rendered once, at load. */
const LOAD_TIME_VARS = ['$processEnvironment', '$env', '$environment'];

const DEFAULT_TIMEOUT_MS = 10_000;

interface TemplateUse {
  readonly names: readonly string[];
  readonly path: Path;
}

/** Checks `data` (the parsed script) and compiles it; problems go to `ck`. */
export function validateScript(data: unknown, ck: Checker, opts: ValidateOptions): Draft {
  return new ScriptValidator(ck, opts).run(data);
}

class ScriptValidator {
  private readonly ck: Checker;
  private readonly opts: ValidateOptions;
  private readonly functionRefs: FunctionRef[] = [];
  private readonly templateUses: TemplateUse[] = [];
  private readonly definedVars = new Set<string>(BUILTIN_VARS);
  private timeoutMs = DEFAULT_TIMEOUT_MS;
  private thinkJitter: Jitter | undefined;
  private hasProcessor = false;
  /** Where each effective config key came from (the environment's block or config). */
  private readonly configSource = new Map<string, Path>();

  constructor(ck: Checker, opts: ValidateOptions) {
    this.ck = ck;
    this.opts = opts;
  }

  run(data: unknown): Draft {
    const ck = this.ck;
    if (!isRecord(data)) {
      ck.error([], `a script must be a mapping with 'config' and 'scenarios', got ${describe(data)}`);
      return this.emptyDraft();
    }
    ck.unknownKeys([], data, TOP_KEYS, 'top-level key', true);
    for (const hook of ['before', 'after'] as const) {
      if (data[hook] !== undefined) {
        ck.errorAtKey([hook], `top-level '${hook}' hooks are not supported by wsload`, 'use beforeScenario/afterScenario processor functions instead');
      }
    }
    const config = this.effectiveConfig(data.config);

    // Config keys.
    const phases = this.phases(config.phases);
    this.timeouts(config);
    const variables = this.variables(config.variables);
    const payloads = this.payloads(config.payload);
    const processor = this.processor(config.processor);
    const wsload = this.wsloadSettings(config.wsload);
    this.defaults(config.defaults);
    const conn = this.connectionDefaults(config);
    const configTarget = this.target(config);

    const thresholds = this.thresholds(config);
    const scenarios = this.scenarios(data.scenarios, config, conn, configTarget, variables);
    this.checkTemplateNames();

    const totalWeight = scenarios.reduce((n, s) => n + s.weight, 0);
    if (scenarios.length > 0 && totalWeight === 0) ck.error(['scenarios'], 'every scenario has weight 0, so none would run');
    return {
      ...(this.opts.environment !== undefined ? { environment: this.opts.environment } : {}),
      ...(configTarget !== undefined ? { target: configTarget } : {}),
      phases,
      totalDurationMs: phases.reduce((n, p) => n + p.durationMs, 0),
      variables,
      payloads,
      ...(processor ? { processor } : {}),
      timeoutMs: this.timeoutMs,
      ...(this.thinkJitter ? { thinkJitter: this.thinkJitter } : {}),
      wsload,
      ...(config.ensure !== undefined ? { ensure: config.ensure } : {}),
      ...(config.plugins !== undefined ? { plugins: config.plugins } : {}),
      thresholds,
      scenarios,
      totalWeight,
      functionRefs: this.functionRefs,
    };
  }

  private emptyDraft(): Draft {
    return { phases: [], totalDurationMs: 0, variables: [], payloads: [], timeoutMs: DEFAULT_TIMEOUT_MS, wsload: {}, thresholds: [], scenarios: [], totalWeight: 0, functionRefs: [] };
  }

  /** Source path of an effective config key. */
  private cp(key: string, ...rest: Path): Path {
    return [...(this.configSource.get(key) ?? ['config', key]), ...rest];
  }

  // ---------------------------------------------------------------- config

  /**
   * Applies the environment (its keys replace config keys, `phases` as a whole), then renders config
   * templates once, as Artillery's resolveConfigTemplates does: only `$env`, `$processEnvironment` and
   * `$environment` are known at that point.
   */
  private effectiveConfig(raw: unknown): Record<string, unknown> {
    const ck = this.ck;
    if (raw === undefined || raw === null) {
      if (raw === null) ck.error(['config'], 'config is empty');
      raw = {};
    }
    if (!isRecord(raw)) {
      ck.error(['config'], `config must be a mapping, got ${describe(raw)}`);
      raw = {};
    }
    const config = raw as Record<string, unknown>;
    ck.unknownKeys(['config'], config, [...CONFIG_KEYS, ...CONFIG_IGNORED], 'config key', true);
    const merged: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
      if (k === 'environments') continue;
      merged[k] = v;
      this.configSource.set(k, ['config', k]);
    }
    const envs = config.environments;
    if (envs !== undefined && !isRecord(envs)) ck.error(['config', 'environments'], `environments must be a mapping of names to config, got ${describe(envs)}`);
    const name = this.opts.environment;
    if (name !== undefined) {
      const defined = isRecord(envs) ? Object.keys(envs) : [];
      const envConfig = isRecord(envs) ? envs[name] : undefined;
      if (envConfig === undefined) {
        const hint = didYouMean(name, defined) ?? (defined.length ? `defined: ${defined.join(', ')}` : 'the script has no config.environments');
        ck.errorAtKey(isRecord(envs) ? ['config', 'environments'] : ['config'], `environment '${name}' is not defined in config.environments`, hint);
      } else if (!isRecord(envConfig)) {
        ck.error(['config', 'environments', name], `environments.${name} must be a mapping of config keys, got ${describe(envConfig)}`);
      } else {
        const base: Path = ['config', 'environments', name];
        ck.unknownKeys(base, envConfig, [...CONFIG_KEYS, ...CONFIG_IGNORED].filter((k) => k !== 'environments'), 'config key', true);
        for (const [k, v] of Object.entries(envConfig)) {
          merged[k] = v;
          this.configSource.set(k, [...base, k]);
        }
      }
    }
    if (this.opts.target !== undefined) merged.target = this.opts.target;
    const vars = { $processEnvironment: this.opts.env, $env: this.opts.env, $environment: name };
    const rendered: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(merged)) {
      // slo, ensure and plugins are kept as written, for whoever reads them later.
      rendered[k] = k === 'slo' || k === 'ensure' || k === 'plugins' || (k === 'target' && this.opts.target !== undefined) ? v : this.renderAtLoad(this.cp(k), v, vars);
    }
    return rendered;
  }

  /**
   * `config.slo` and `config.ensure` (or `config.plugins.ensure`) into thresholds; every problem at
   * its place in the file (an expression's column is counted from the start of its value).
   */
  private thresholds(config: Record<string, unknown>): Threshold[] {
    const sources: { slo?: unknown; ensure?: unknown; plugins?: unknown } = {};
    if (config.slo !== undefined) sources.slo = config.slo;
    if (config.ensure !== undefined) sources.ensure = config.ensure;
    if (config.plugins !== undefined) sources.plugins = config.plugins;
    if (Object.keys(sources).length === 0) return [];
    const parsed = thresholdsFromConfig(sources);
    for (const issue of parsed.issues) {
      // Issue paths start at ['config', key]: re-root them where the key came from (an environment).
      const [, key, ...rest] = issue.path;
      const path = typeof key === 'string' ? this.cp(key, ...rest) : issue.path;
      const at = issue.column === undefined ? issue.message : `${issue.message} (column ${issue.column} of the expression)`;
      if (issue.severity === 'error') this.ck.error(path, at, issue.hint);
      else this.ck.warn(path, at, issue.hint);
    }
    return [...parsed.thresholds];
  }

  private renderAtLoad(path: Path, value: unknown, vars: Record<string, unknown>): unknown {
    const ck = this.ck;
    if (typeof value === 'string') {
      if (!hasTemplate(value)) return value;
      const t = this.compile(path, value);
      const unknown = t.names.filter((n) => !LOAD_TIME_VARS.includes(n));
      if (unknown.length > 0) {
        ck.error(
          path,
          `${formatPath(path.slice(1))} uses '${unknown[0]}', which is not known when the script loads`,
          `config is rendered once at load with ${LOAD_TIME_VARS.join(', ')}; per-user values belong in the flow`,
        );
        return value;
      }
      for (const m of value.matchAll(/\$(?:env|processEnvironment)\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (this.opts.env[m[1] as string] === undefined) ck.warn(path, `environment variable '${m[1]}' is not set`);
      }
      return t(vars);
    }
    if (Array.isArray(value)) return value.map((v, i) => this.renderAtLoad([...path, i], v, vars));
    if (isRecord(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.renderAtLoad([...path, k], v, vars);
      return out;
    }
    return value;
  }

  /** Compiles a template, reporting its issues at their place. */
  private compile(path: Path, value: unknown): Template {
    return compileTemplate(value, (issue: TemplateIssue) => {
      if (issue.severity === 'error') this.ck.error([...path, ...issue.path], issue.message, issue.hint);
      else this.ck.warn([...path, ...issue.path], issue.message, issue.hint);
    });
  }

  /** Compiles a template used at run time and remembers which variables each string in it reads. */
  private runtimeTemplate(path: Path, value: unknown): Template {
    const t = this.compile(path, value);
    if (t.names.length > 0) this.collectUses(path, value);
    return t;
  }

  private collectUses(path: Path, value: unknown): void {
    if (typeof value === 'string') {
      if (!hasTemplate(value)) return;
      const names = compileTemplate(value).names;
      if (names.length > 0) this.templateUses.push({ names, path });
    } else if (Array.isArray(value)) value.forEach((v, i) => this.collectUses([...path, i], v));
    else if (isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (hasTemplate(k)) this.collectUses([...path, k], k);
        this.collectUses([...path, k], v);
      }
    }
  }

  private target(config: Record<string, unknown>): string | undefined {
    const t = config.target;
    if (t === undefined || t === null || t === '') return undefined;
    const where = this.opts.target !== undefined ? 'the --target option' : 'target';
    if (typeof t !== 'string') {
      this.ck.error(this.cp('target'), `${where} must be a URL string like 'ws://localhost:8000/ws', got ${describe(t)}`);
      return undefined;
    }
    this.checkUrl(this.opts.target !== undefined ? [] : this.cp('target'), t, where);
    return t;
  }

  private checkUrl(path: Path, url: string, what: string): void {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      this.ck.error(path, `${what} '${url}' is not a valid URL`, "write it like 'ws://localhost:8000/ws'");
      return;
    }
    if (!['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
      this.ck.error(path, `${what} '${url}' must use ws:// or wss://`);
    }
  }

  private phases(raw: unknown): PhaseSpec[] {
    const ck = this.ck;
    if (raw === undefined) {
      // Artillery's default when no phases are given: one virtual user.
      return [{ kind: 'count', index: 0, arrivalCount: 1, durationMs: 1000, location: ck.at(['config']) }];
    }
    if (!Array.isArray(raw)) {
      ck.error(this.cp('phases'), `phases must be a list, got ${describe(raw)}`);
      return [];
    }
    if (raw.length === 0) ck.error(this.cp('phases'), 'phases is empty: no virtual user would arrive');
    const out: PhaseSpec[] = [];
    raw.forEach((spec, i) => {
      const p = this.phase(spec, i);
      if (p) out.push(p);
    });
    return out;
  }

  private phase(spec: unknown, index: number): PhaseSpec | undefined {
    const ck = this.ck;
    const path = this.cp('phases', index);
    const label = `phases[${index}]`;
    if (!isRecord(spec)) {
      ck.error(path, `${label} must be a mapping like { duration: 60, arrivalRate: 10 }, got ${describe(spec)}`);
      return undefined;
    }
    const before = ck.problems.errorCount;
    ck.unknownKeys(path, spec, PHASE_KEYS, 'phase key');
    const num = (key: string, opts: { integer?: boolean; min?: number } = {}): number | undefined => {
      const v = spec[key];
      if (v === undefined) return undefined;
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      const min = opts.min ?? 0;
      if (!Number.isFinite(n) || n < min || (opts.integer && !Number.isInteger(n))) {
        const kind = opts.integer ? (min > 0 ? 'a whole number > 0' : 'a whole number >= 0') : 'a number >= 0';
        ck.error([...path, key], `${label}.${key} must be ${kind}, got ${describe(v)}`);
        return undefined;
      }
      return n;
    };
    const dur = (key: string): number | undefined => {
      const v = spec[key];
      if (v === undefined) return undefined;
      const ms = parseDurationMs(v);
      if (ms === undefined || ms <= 0) {
        ck.error([...path, key], `${label}.${key} must be a positive number or a duration like '30s', got ${describe(v)}`);
        return undefined;
      }
      return ms;
    };
    const arrivalRate = num('arrivalRate');
    const rampTo = num('rampTo');
    const arrivalCount = num('arrivalCount', { integer: true });
    const maxVusers = num('maxVusers', { integer: true, min: 1 });
    const durationMs = dur('duration');
    const pauseMs = dur('pause');
    let name: string | undefined;
    if (spec.name !== undefined) {
      if (typeof spec.name === 'string' || typeof spec.name === 'number') name = String(spec.name);
      else ck.error([...path, 'name'], `${label}.name must be a string, got ${describe(spec.name)}`);
    }
    let mode: 'uniform' | 'poisson' = 'uniform';
    if (spec.mode !== undefined) {
      if (spec.mode === 'uniform' || spec.mode === 'poisson') mode = spec.mode;
      else ck.error([...path, 'mode'], `${label}.mode must be 'uniform' or 'poisson', got ${describe(spec.mode)}`);
    }
    const has = (k: string) => spec[k] !== undefined;
    const common = {
      index,
      ...(name !== undefined ? { name } : {}),
      ...(maxVusers !== undefined ? { maxVusers } : {}),
      location: ck.at(path),
    };
    // Artillery's precedence (phases.js): pause, then arrivalCount, then arrivalRate.
    if (has('pause')) {
      for (const k of ['arrivalRate', 'arrivalCount', 'rampTo']) if (has(k)) ck.warnAtKey([...path, k], `${label} is a pause, so ${k} is ignored`);
      if (ck.problems.errorCount > before || pauseMs === undefined) return undefined;
      return { ...common, kind: 'pause', durationMs: pauseMs };
    }
    if (!has('arrivalRate') && !has('arrivalCount')) {
      // A misspelt key was already reported ("arivalRate"): saying the rate is missing adds nothing.
      if (ck.problems.errorCount > before) return undefined;
      if (has('rampTo')) ck.error(path, `${label} has rampTo but no arrivalRate to ramp from`);
      else ck.error(path, `${label} needs arrivalRate, arrivalCount or pause`);
      return undefined;
    }
    if (!has('duration')) {
      ck.error(path, `${label} needs a duration, e.g. duration: 60 or duration: '5m'`);
      return undefined;
    }
    if (has('arrivalCount')) {
      for (const k of ['arrivalRate', 'rampTo']) if (has(k)) ck.warnAtKey([...path, k], `${label} has arrivalCount, so ${k} is ignored`);
      if (ck.problems.errorCount > before || arrivalCount === undefined || durationMs === undefined) return undefined;
      return { ...common, kind: 'count', arrivalCount, durationMs };
    }
    if (ck.problems.errorCount > before || arrivalRate === undefined || durationMs === undefined) return undefined;
    if (rampTo !== undefined) return { ...common, kind: 'ramp', arrivalRate, rampTo, durationMs };
    if (arrivalRate === 0) return { ...common, kind: 'pause', durationMs };
    return { ...common, kind: 'constant', arrivalRate, mode, durationMs };
  }

  private timeouts(config: Record<string, unknown>): void {
    const ws = isRecord(config.ws) ? config.ws : {};
    // engine_ws: config.timeout || config.ws.timeout || 10 (seconds).
    const read = (value: unknown, path: Path): number | undefined => {
      if (value === undefined) return undefined;
      const ms = parseDurationMs(value);
      if (ms === undefined || ms <= 0) {
        this.ck.error(path, `${formatPath(path.slice(1))} must be a positive number of seconds or a duration like '10s', got ${describe(value)}`);
        return undefined;
      }
      return ms;
    };
    const top = read(config.timeout, this.cp('timeout'));
    const fromWs = read(ws.timeout, this.cp('ws', 'timeout'));
    this.timeoutMs = top ?? fromWs ?? DEFAULT_TIMEOUT_MS;
  }

  private variables(raw: unknown): VariableSpec[] {
    if (raw === undefined || raw === null) return [];
    if (!isRecord(raw)) {
      this.ck.error(this.cp('variables'), `variables must be a mapping of names to values, got ${describe(raw)}`);
      return [];
    }
    const out: VariableSpec[] = [];
    for (const [name, value] of Object.entries(raw)) {
      this.definedVars.add(name);
      if (Array.isArray(value)) {
        if (value.length === 0) this.ck.error(this.cp('variables', name), `variables.${name} is an empty list: there is nothing to pick from`);
        else out.push({ name, kind: 'pick', values: value });
      } else out.push({ name, kind: 'value', value });
    }
    return out;
  }

  private payloads(raw: unknown): PayloadSpec[] {
    if (raw === undefined || raw === null) return [];
    const list = Array.isArray(raw) ? raw : [raw];
    const out: PayloadSpec[] = [];
    list.forEach((spec, i) => {
      const path = Array.isArray(raw) ? this.cp('payload', i) : this.cp('payload');
      const p = this.payload(spec, path);
      if (p) out.push(p);
    });
    return out;
  }

  private payload(spec: unknown, path: Path): PayloadSpec | undefined {
    const ck = this.ck;
    const label = formatPath(path.slice(1));
    if (!isRecord(spec)) {
      ck.error(path, `${label} must be a mapping like { path: 'users.csv', fields: [username, password] }, got ${describe(spec)}`);
      return undefined;
    }
    const before = ck.problems.errorCount;
    ck.unknownKeys(path, spec, PAYLOAD_KEYS, 'payload key');
    if (typeof spec.path !== 'string' || spec.path === '') {
      ck.error(spec.path === undefined ? path : [...path, 'path'], spec.path === undefined ? `${label} needs path, the CSV file to read` : `${label}.path must be a file path, got ${describe(spec.path)}`);
    }
    const bool = (key: string, dflt: boolean): boolean => {
      const v = spec[key];
      if (v === undefined) return dflt;
      if (typeof v !== 'boolean') {
        ck.error([...path, key], `${label}.${key} must be true or false, got ${describe(v)}`);
        return dflt;
      }
      return v;
    };
    const loadAll = bool('loadAll', false);
    const skipHeader = bool('skipHeader', false);
    const cast = bool('cast', true);
    const skipEmptyLines = bool('skipEmptyLines', true);
    let fields: string[] = [];
    if (spec.fields !== undefined) {
      if (!Array.isArray(spec.fields) || spec.fields.some((f) => typeof f !== 'string' || f === '')) {
        ck.error([...path, 'fields'], `${label}.fields must be a list of column names, got ${describe(spec.fields)}`);
      } else fields = spec.fields as string[];
    } else if (!loadAll) {
      ck.error(path, `${label} needs fields, the variable name for each CSV column`);
    }
    for (const f of fields) this.definedVars.add(f);
    let order: PayloadOrder = 'random';
    if (spec.order !== undefined) {
      if (spec.order === 'random' || spec.order === 'sequence') order = spec.order;
      else ck.error([...path, 'order'], `${label}.order must be 'random' or 'sequence', got ${describe(spec.order)}`, typeof spec.order === 'string' ? didYouMean(spec.order, ['random', 'sequence']) : undefined);
    }
    let delimiter = ',';
    if (spec.delimiter !== undefined) {
      if (typeof spec.delimiter === 'string' && spec.delimiter !== '' && !/["\r\n]/.test(spec.delimiter)) delimiter = spec.delimiter;
      else ck.error([...path, 'delimiter'], `${label}.delimiter must be a character like ',' or ';', got ${describe(spec.delimiter)}`);
    }
    let name: string | undefined;
    if (spec.name !== undefined) {
      if (typeof spec.name === 'string' && spec.name !== '') {
        name = spec.name;
        this.definedVars.add(name);
      } else ck.error([...path, 'name'], `${label}.name must be a variable name, got ${describe(spec.name)}`);
    }
    if (loadAll && name === undefined && spec.name === undefined) ck.error(path, `${label} has loadAll but no name to hold the rows`);
    if (spec.options !== undefined) ck.warnAtKey([...path, 'options'], `${label}.options (csv-parse options) are not supported by wsload and are ignored`);
    if (ck.problems.errorCount > before || typeof spec.path !== 'string') return undefined;
    return {
      path: resolve(dirname(resolve(this.opts.file)), spec.path),
      displayPath: isAbsolute(spec.path) ? spec.path : join(dirname(this.opts.file), spec.path),
      fields,
      order,
      loadAll,
      ...(name !== undefined ? { name } : {}),
      skipHeader,
      delimiter,
      cast,
      skipEmptyLines,
      location: ck.at(path),
      pathLocation: ck.at([...path, 'path']),
    };
  }

  private processor(raw: unknown): Draft['processor'] {
    if (raw === undefined || raw === null) return undefined;
    const path = this.cp('processor');
    if (typeof raw !== 'string' || raw === '') {
      this.ck.error(path, `processor must be a file path like './processor.js', got ${describe(raw)}`);
      return undefined;
    }
    this.hasProcessor = true;
    return { spec: raw, path: resolve(dirname(resolve(this.opts.file)), raw), location: this.ck.at(path) };
  }

  private wsloadSettings(raw: unknown): WsloadSettings {
    const ck = this.ck;
    if (raw === undefined || raw === null) return {};
    const path = this.cp('wsload');
    if (!isRecord(raw)) {
      ck.error(path, `wsload must be a mapping like { correlation: { field: 'id' } }, got ${describe(raw)}`);
      return {};
    }
    ck.unknownKeys(path, raw, ['correlation', 'graceMs'], 'wsload key');
    const out: { correlation?: { field: string } | false; graceMs?: number } = {};
    const c = raw.correlation;
    if (c !== undefined) {
      if (c === false) out.correlation = false;
      else if (isRecord(c) && typeof c.field === 'string' && c.field !== '' && Object.keys(c).length === 1) out.correlation = { field: c.field };
      else if (isRecord(c)) {
        ck.unknownKeys([...path, 'correlation'], c, ['field'], 'correlation key');
        if (typeof c.field !== 'string' || c.field === '') ck.error([...path, 'correlation'], `wsload.correlation needs field, the message field that ties a reply to its request`);
      } else ck.error([...path, 'correlation'], `wsload.correlation must be false or { field: 'id' }, got ${describe(c)}`);
    }
    const g = raw.graceMs;
    if (g !== undefined) {
      const ms = typeof g === 'number' ? g : typeof g === 'string' ? parseDurationMs(/^\d+(\.\d+)?$/.test(g.trim()) ? `${g}ms` : g) : undefined;
      if (ms === undefined || !Number.isFinite(ms) || ms < 0) ck.error([...path, 'graceMs'], `wsload.graceMs must be a number of milliseconds >= 0, got ${describe(g)}`);
      else out.graceMs = ms;
    }
    return out;
  }

  private defaults(raw: unknown): void {
    if (raw === undefined || raw === null) return;
    const path = this.cp('defaults');
    if (!isRecord(raw)) {
      this.ck.error(path, `defaults must be a mapping, got ${describe(raw)}`);
      return;
    }
    const think = raw.think;
    if (think === undefined) return;
    if (!isRecord(think)) {
      this.ck.error([...path, 'think'], `defaults.think must be a mapping like { jitter: '20%' }, got ${describe(think)}`);
      return;
    }
    this.ck.unknownKeys([...path, 'think'], think, ['jitter'], 'defaults.think key');
    if (think.jitter !== undefined) this.thinkJitter = this.jitter([...path, 'think', 'jitter'], think.jitter);
  }

  private jitter(path: Path, v: unknown): Jitter | undefined {
    // Artillery's jitter.js: '20%' of the pause, or an absolute number of milliseconds.
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return { kind: 'ms', value: v };
    if (typeof v === 'string') {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
      if (m) return m[2] ? { kind: 'percent', value: Number(m[1]) } : { kind: 'ms', value: Number(m[1]) };
    }
    this.ck.error(path, `jitter must be a percentage like '20%' or a number of milliseconds, got ${describe(v)}`);
    return undefined;
  }

  /** The connection every scenario starts from: config.ws and config.tls. */
  private connectionDefaults(config: Record<string, unknown>): {
    subprotocols: string[];
    headers: Record<string, unknown>;
    options: Record<string, unknown>;
    proxy?: Record<string, unknown>;
  } {
    const ck = this.ck;
    const options: Record<string, unknown> = {};
    const tls = config.tls;
    if (tls !== undefined) {
      if (!isRecord(tls)) ck.error(this.cp('tls'), `tls must be a mapping like { rejectUnauthorized: false }, got ${describe(tls)}`);
      else {
        if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') {
          ck.error(this.cp('tls', 'rejectUnauthorized'), `tls.rejectUnauthorized must be true or false, got ${describe(tls.rejectUnauthorized)}`);
        }
        Object.assign(options, tls);
      }
    }
    const ws = config.ws;
    let subprotocols: string[] = [];
    let headers: Record<string, unknown> = {};
    let proxy: Record<string, unknown> | undefined;
    if (ws !== undefined) {
      if (!isRecord(ws)) ck.error(this.cp('ws'), `ws must be a mapping, got ${describe(ws)}`);
      else {
        const { subprotocols: sp, headers: h, proxy: px, timeout: _timeout, ...rest } = ws;
        subprotocols = this.subprotocols(this.cp('ws', 'subprotocols'), sp) ?? [];
        headers = this.headers(this.cp('ws', 'headers'), h) ?? {};
        if (px !== undefined) {
          if (isRecord(px) && typeof px.url === 'string') proxy = px;
          else ck.error(this.cp('ws', 'proxy'), `ws.proxy must be a mapping like { url: 'http://proxy:8080' }, got ${describe(px)}`);
        }
        Object.assign(options, rest);
      }
    }
    const split = splitProtocolHeader(headers, subprotocols);
    return { subprotocols: split.subprotocols, headers: split.headers, options, ...(proxy ? { proxy } : {}) };
  }

  private subprotocols(path: Path, v: unknown): string[] | undefined {
    if (v === undefined) return undefined;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '')) return v as string[];
    this.ck.error(path, `subprotocols must be a list of names like [json, soap], got ${describe(v)}`);
    return undefined;
  }

  private headers(path: Path, v: unknown): Record<string, unknown> | undefined {
    if (v === undefined) return undefined;
    if (!isRecord(v)) {
      this.ck.error(path, `headers must be a mapping of header names to values, got ${describe(v)}`);
      return undefined;
    }
    for (const [k, hv] of Object.entries(v)) {
      if (typeof hv !== 'string' && typeof hv !== 'number' && typeof hv !== 'boolean') {
        this.ck.error([...path, k], `header '${k}' must be a string, got ${describe(hv)}`);
      }
    }
    return v;
  }

  // ---------------------------------------------------------------- scenarios

  private scenarios(
    raw: unknown,
    config: Record<string, unknown>,
    conn: ReturnType<ScriptValidator['connectionDefaults']>,
    target: string | undefined,
    variables: readonly VariableSpec[],
  ): ScenarioPlan[] {
    const ck = this.ck;
    if (raw === undefined || raw === null) {
      ck.error([], "the script has no scenarios", "add 'scenarios:' with at least one scenario using engine: ws");
      return [];
    }
    if (!Array.isArray(raw)) {
      ck.error(['scenarios'], `scenarios must be a list, got ${describe(raw)}`);
      return [];
    }
    if (raw.length === 0) ck.error(['scenarios'], 'scenarios is empty');
    // Captures anywhere define variables for every template (a later step may read them).
    for (const s of raw) if (isRecord(s)) collectCaptureNames(s.flow, this.definedVars);
    const defaultEngine = typeof config.engine === 'string' ? config.engine : undefined;
    const weightVars: Record<string, unknown> = { $processEnvironment: this.opts.env, $env: this.opts.env, $environment: this.opts.environment };
    for (const v of variables) weightVars[v.name] = v.kind === 'value' ? v.value : v.values[0];
    const out: ScenarioPlan[] = [];
    let missingTarget = false;
    raw.forEach((spec, i) => {
      const s = this.scenario(spec, i, defaultEngine, conn, target, weightVars);
      if (s === 'needs-target') missingTarget = true;
      else if (s) out.push(s);
    });
    if (missingTarget) {
      ck.error(this.configSource.has('target') ? this.cp('target') : ['config'], 'no target: config.target is not set', 'set config.target, pass --target, or start the flow with connect: ws://…');
    }
    return out;
  }

  private scenario(
    spec: unknown,
    index: number,
    defaultEngine: string | undefined,
    conn: ReturnType<ScriptValidator['connectionDefaults']>,
    target: string | undefined,
    weightVars: Record<string, unknown>,
  ): ScenarioPlan | 'needs-target' | undefined {
    const ck = this.ck;
    const path: Path = ['scenarios', index];
    if (!isRecord(spec)) {
      ck.error(path, `scenarios[${index}] must be a mapping with a flow, got ${describe(spec)}`);
      return undefined;
    }
    const named = typeof spec.name === 'string' && spec.name !== '' ? spec.name : undefined;
    if (spec.name !== undefined && typeof spec.name !== 'string') ck.error([...path, 'name'], `scenario name must be a string, got ${describe(spec.name)}`);
    const label = named !== undefined ? `scenario '${named}'` : `scenarios[${index}]`;
    // runner.js: scenario.engine || config.engine || 'http'.
    const engine = spec.engine ?? defaultEngine ?? 'http';
    if (engine !== 'ws') {
      const shown = typeof engine === 'string' ? engine : describe(engine);
      ck.error(
        spec.engine !== undefined ? [...path, 'engine'] : path,
        `${label} uses the ${shown} engine; wsload runs only engine: ws`,
        spec.engine === undefined ? "add 'engine: ws' to the scenario (or to config)" : undefined,
      );
      return undefined;
    }
    const before = ck.problems.errorCount;
    for (const k of SCENARIO_HTTP_KEYS) {
      if (spec[k] !== undefined) ck.errorAtKey([...path, k], `'${k}' hooks belong to the http engine; the ws engine has no requests to hook`);
    }
    ck.unknownKeys(path, spec, [...SCENARIO_KEYS, ...SCENARIO_HTTP_KEYS], 'scenario key', true);
    const weight = this.weight(path, spec.weight, weightVars, label);
    const beforeScenario = this.hookNames([...path, 'beforeScenario'], spec.beforeScenario);
    const afterScenario = this.hookNames([...path, 'afterScenario'], spec.afterScenario);
    if (spec.flow === undefined) {
      ck.error(path, `${label} has no flow`);
      return undefined;
    }
    if (!Array.isArray(spec.flow)) {
      ck.error([...path, 'flow'], `flow must be a list of steps, got ${describe(spec.flow)}`);
      return undefined;
    }
    const flat = flattenFlow(spec.flow, [...path, 'flow']);
    let connect: ConnectPlan | undefined;
    let rest = flat;
    const first = flat[0];
    const explicit = first !== undefined && isRecord(first.value) && first.value.connect !== undefined;
    if (explicit) {
      connect = this.connect(first.path, first.value as Record<string, unknown>, conn, target);
      rest = flat.slice(1);
    }
    let needsTarget = false;
    if (!connect && !explicit && target === undefined) needsTarget = true;
    else if (!connect && !explicit && target !== undefined) {
      connect = {
        target: compileTemplate(target),
        subprotocols: conn.subprotocols,
        headers: compileTemplate(conn.headers),
        options: conn.options,
        ...(conn.proxy ? { proxy: conn.proxy } : {}),
        location: ck.at(path),
      };
    }
    const steps = this.steps(rest);
    if (needsTarget) return 'needs-target';
    if (!connect) return undefined;
    if (flat.length === 0) ck.warn([...path, 'flow'], `${label} has an empty flow: each virtual user connects and leaves`);
    if (ck.problems.errorCount > before) return undefined;
    return {
      index,
      name: named ?? `scenarios[${index}]`,
      weight,
      connect,
      beforeScenario,
      afterScenario,
      steps,
      location: ck.at(path),
    };
  }

  private weight(path: Path, raw: unknown, vars: Record<string, unknown>, label: string): number {
    if (raw === undefined) return 1;
    let v: unknown = raw;
    if (typeof v === 'string' && hasTemplate(v)) v = this.compile([...path, 'weight'], v)(vars);
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < 0) {
      this.ck.error([...path, 'weight'], `${label}: weight must be a whole number >= 0, got ${describe(v)}`);
      return 1;
    }
    if (!Number.isInteger(n)) {
      this.ck.warn([...path, 'weight'], `${label}: weight ${n} is rounded down to ${Math.floor(n)}, as Artillery does`);
      return Math.floor(n);
    }
    return n;
  }

  private hookNames(path: Path, raw: unknown): string[] {
    if (raw === undefined) return [];
    const list = Array.isArray(raw) ? raw : [raw];
    const out: string[] = [];
    list.forEach((name, i) => {
      const p = Array.isArray(raw) ? [...path, i] : path;
      if (typeof name !== 'string' || name === '') {
        this.ck.error(p, `${String(path[path.length - 1])} must name a processor function, got ${describe(name)}`);
        return;
      }
      this.functionRef(p, name);
      out.push(name);
    });
    return out;
  }

  private functionRef(path: Path, name: string): void {
    this.functionRefs.push({ name, location: this.ck.at(path) });
  }

  private connect(
    path: Path,
    step: Record<string, unknown>,
    conn: ReturnType<ScriptValidator['connectionDefaults']>,
    target: string | undefined,
  ): ConnectPlan | undefined {
    const ck = this.ck;
    this.stepKeys(path, step, 'connect');
    const value = step.connect;
    const p: Path = [...path, 'connect'];
    const base = {
      subprotocols: conn.subprotocols,
      headers: compileTemplate(conn.headers),
      options: conn.options,
      ...(conn.proxy ? { proxy: conn.proxy } : {}),
      location: ck.at(path),
    };
    if (typeof value === 'string') {
      if (!hasTemplate(value)) this.checkUrl(p, value, 'connect');
      return { ...base, target: this.runtimeTemplate(p, value) };
    }
    if (!isRecord(value)) {
      ck.error(p, `connect must be a URL, { target, headers, subprotocols } or { function: name }, got ${describe(value)}`);
      return undefined;
    }
    if (value.function !== undefined) {
      if (typeof value.function !== 'string' || value.function === '') {
        ck.error([...p, 'function'], `connect.function must name a processor function, got ${describe(value.function)}`);
        return undefined;
      }
      for (const k of Object.keys(value)) if (k !== 'function') ck.warnAtKey([...p, k], `connect.${k} is ignored: connect.function sets up the connection`);
      this.functionRef([...p, 'function'], value.function);
      return { ...base, target: compileTemplate(target), function: value.function };
    }
    const { target: t, headers: h, subprotocols: sp, ...rest } = value;
    let targetTemplate: Template;
    if (t === undefined) {
      if (target === undefined) {
        ck.error(p, 'connect has no target and config.target is not set', "add target: 'ws://…'");
        return undefined;
      }
      targetTemplate = compileTemplate(target);
    } else if (typeof t !== 'string') {
      ck.error([...p, 'target'], `connect.target must be a URL string, got ${describe(t)}`);
      return undefined;
    } else {
      if (!hasTemplate(t)) this.checkUrl([...p, 'target'], t, 'connect.target');
      targetTemplate = this.runtimeTemplate([...p, 'target'], t);
    }
    const headers = this.headers([...p, 'headers'], h);
    const subprotocols = this.subprotocols([...p, 'subprotocols'], sp);
    // Artillery's ws engine replaces config.ws.headers/subprotocols with the connect step's.
    const split = splitProtocolHeader(headers ?? (conn.headers as Record<string, unknown>), subprotocols ?? conn.subprotocols);
    return {
      ...base,
      target: targetTemplate,
      subprotocols: split.subprotocols,
      headers: headers ? this.runtimeTemplate([...p, 'headers'], split.headers) : compileTemplate(split.headers),
      options: { ...conn.options, ...rest },
    };
  }

  // ---------------------------------------------------------------- steps

  private steps(flat: readonly FlowItem[]): StepPlan[] {
    const out: StepPlan[] = [];
    for (const item of flat) {
      const s = this.step(item.path, item.value);
      if (s) out.push(s);
    }
    return out;
  }

  /** Finds a step's action key, refusing unknown and extra keys. */
  private stepKeys(path: Path, step: Record<string, unknown>, kind: StepKey): void {
    const allowed = [kind, ...(STEP_SIBLINGS[kind] ?? [])];
    for (const k of Object.keys(step)) {
      if (allowed.includes(k)) continue;
      if ((STEP_KINDS as readonly string[]).includes(k)) {
        this.ck.errorAtKey([...path, k], `a step does one thing: this one has both '${kind}' and '${k}'`, `split it into two steps`);
      } else {
        const hint = didYouMean(k, allowed);
        this.ck.errorAtKey([...path, k], `unknown key '${k}' in a ${kind} step`, hint);
      }
    }
  }

  private step(path: Path, raw: unknown): StepPlan | undefined {
    const ck = this.ck;
    if (!isRecord(raw)) {
      const hint = typeof raw === 'string' ? didYouMean(raw, STEP_KINDS) : undefined;
      ck.error(path, `a step must be a mapping like { send: 'hello' }, got ${describe(raw)}`, hint);
      return undefined;
    }
    const kind = STEP_KINDS.find((k) => raw[k] !== undefined || (k in raw && k !== 'connect'));
    if (!kind) {
      const key = Object.keys(raw)[0];
      if (key === undefined) {
        ck.error(path, 'empty step', `a step is one of ${STEP_KINDS.join(', ')}`);
        return undefined;
      }
      if (HTTP_STEPS.includes(key)) ck.errorAtKey([...path, key], `'${key}' is an http step; wsload runs only engine: ws steps`);
      else if (SOCKETIO_STEPS.includes(key)) ck.errorAtKey([...path, key], `'${key}' is a socketio step; wsload runs only engine: ws steps`);
      else if (key === 'sendBytes') ck.errorAtKey([...path, key], `unknown step 'sendBytes'`, "use sendBinary: { base64: '…' } or { hex: '…' }");
      else if (key === 'connect') ck.error([...path, key], 'connect needs a URL, { target } or { function }');
      else ck.errorAtKey([...path, key], `unknown step '${key}'`, didYouMean(key, STEP_KINDS) ?? `a step is one of ${STEP_KINDS.join(', ')}`);
      return undefined;
    }
    const before = ck.problems.errorCount;
    this.stepKeys(path, raw, kind);
    const location = ck.at(path);
    const p: Path = [...path, kind];
    const value = raw[kind];
    let step: StepPlan | undefined;
    switch (kind) {
      case 'connect':
        ck.warnAtKey(p, 'connect is only honoured as the first step of a flow; this one is ignored, as in Artillery');
        return undefined;
      case 'send':
        step = this.send(p, value, location);
        break;
      case 'sendBinary':
        step = this.sendBinary(p, value, location);
        break;
      case 'wait':
        step = this.wait(p, value, location);
        break;
      case 'think':
        step = this.think(path, raw, location);
        break;
      case 'loop':
        step = this.loop(path, raw, location);
        break;
      case 'function':
        if (typeof value !== 'string' || value === '') {
          ck.error(p, `function must name a processor function, got ${describe(value)}`);
          return undefined;
        }
        this.functionRef(p, value);
        step = { kind: 'function', name: value, location };
        break;
      case 'log':
        if (value === null || typeof value === 'object') {
          ck.error(p, `log must be a message string, got ${describe(value)}`);
          return undefined;
        }
        step = { kind: 'log', message: this.runtimeTemplate(p, String(value)), location };
        break;
    }
    return ck.problems.errorCount > before ? undefined : step;
  }

  private stepTimeout(path: Path, v: unknown): number {
    if (v === undefined) return this.timeoutMs;
    const ms = parseDurationMs(v);
    if (ms === undefined || ms <= 0) {
      this.ck.error(path, `timeout must be a positive number of seconds or a duration like '5s', got ${describe(v)}`);
      return this.timeoutMs;
    }
    return ms;
  }

  private expectation(path: Path, obj: Record<string, unknown>): Expectation | undefined {
    return compileExpectation(this.ck, path, obj.capture, obj.match);
  }

  private send(p: Path, value: unknown, location: SourceLocation): StepPlan | undefined {
    const ck = this.ck;
    if (value === undefined || value === null) {
      ck.error(p, 'send needs a message: a string, or an object sent as JSON');
      return undefined;
    }
    // engine_ws: with capture or match the message is in `payload`; otherwise the value is the message.
    if (isRecord(value) && ('capture' in value || 'match' in value)) {
      ck.unknownKeys(p, value, ['payload', 'capture', 'match', 'timeout'], 'send key');
      const expect = this.expectation(p, value);
      const timeoutMs = this.stepTimeout([...p, 'timeout'], value.timeout);
      if (value.payload === undefined) {
        // Artillery waits without sending in that case.
        if (!expect) return undefined;
        return { kind: 'wait', expect, timeoutMs, location };
      }
      const payload = this.runtimeTemplate([...p, 'payload'], value.payload);
      return {
        kind: 'send',
        payload,
        ...(payload.isStatic ? { text: serializePayload(value.payload) } : {}),
        ...(expect ? { expect } : {}),
        timeoutMs,
        location,
      };
    }
    if (isRecord(value) && Object.keys(value).length === 1 && 'payload' in value) {
      ck.warn(p, "send: { payload } without capture or match sends the whole object {\"payload\": …}, as Artillery does", 'write send: <message> to send only the message');
    }
    const payload = this.runtimeTemplate(p, value);
    return { kind: 'send', payload, ...(payload.isStatic ? { text: serializePayload(value) } : {}), timeoutMs: this.timeoutMs, location };
  }

  private sendBinary(p: Path, value: unknown, location: SourceLocation): StepPlan | undefined {
    const ck = this.ck;
    if (!isRecord(value)) {
      ck.error(p, `sendBinary must be { base64: '…' } or { hex: '…' }, got ${describe(value)}`);
      return undefined;
    }
    ck.unknownKeys(p, value, ['base64', 'hex', 'capture', 'match', 'timeout'], 'sendBinary key');
    const has64 = value.base64 !== undefined;
    const hasHex = value.hex !== undefined;
    if (has64 === hasHex) {
      ck.error(p, has64 ? 'sendBinary takes base64 or hex, not both' : "sendBinary needs base64: '…' or hex: '…'");
      return undefined;
    }
    const encoding = has64 ? 'base64' : 'hex';
    const raw = value[encoding];
    if (typeof raw !== 'string') {
      ck.error([...p, encoding], `sendBinary.${encoding} must be a string, got ${describe(raw)}`);
      return undefined;
    }
    const data = this.runtimeTemplate([...p, encoding], raw);
    let bytes: Buffer | undefined;
    if (data.isStatic) {
      const compact = raw.replace(/\s+/g, '');
      const valid = encoding === 'hex' ? /^(?:[0-9a-fA-F]{2})*$/.test(compact) : /^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) && compact.length % 4 !== 1;
      if (!valid) {
        ck.error([...p, encoding], encoding === 'hex' ? `sendBinary.hex must be pairs of hex digits, got ${describe(raw)}` : `sendBinary.base64 is not valid base64: ${describe(raw)}`);
        return undefined;
      }
      bytes = Buffer.from(compact, encoding);
    }
    const expect = this.expectation(p, value);
    return {
      kind: 'sendBinary',
      ...(bytes ? { bytes } : {}),
      data,
      encoding,
      ...(expect ? { expect } : {}),
      timeoutMs: this.stepTimeout([...p, 'timeout'], value.timeout),
      location,
    };
  }

  private wait(p: Path, value: unknown, location: SourceLocation): StepPlan | undefined {
    const ck = this.ck;
    if (!isRecord(value)) {
      ck.error(p, `wait must be { match: …, capture: … }, got ${describe(value)}`);
      return undefined;
    }
    ck.unknownKeys(p, value, ['capture', 'match', 'timeout'], 'wait key');
    const expect = this.expectation(p, value);
    if (!expect) {
      ck.error(p, 'wait needs match or capture: it waits for a message that satisfies them');
      return undefined;
    }
    return { kind: 'wait', expect, timeoutMs: this.stepTimeout([...p, 'timeout'], value.timeout), location };
  }

  private think(path: Path, raw: Record<string, unknown>, location: SourceLocation): StepPlan | undefined {
    const v = raw.think;
    const p: Path = [...path, 'think'];
    const jitter = raw.jitter !== undefined ? this.jitter([...path, 'jitter'], raw.jitter) : this.thinkJitter;
    const j = jitter ? { jitter } : {};
    if (typeof v === 'string' && hasTemplate(v)) return { kind: 'think', dynamic: this.runtimeTemplate(p, v), location, ...j };
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < 0) {
      this.ck.error(p, `think must be a number of seconds or a duration like '500ms', got ${describe(v)}`);
      return undefined;
    }
    return { kind: 'think', ms, location, ...j };
  }

  private loop(path: Path, raw: Record<string, unknown>, location: SourceLocation): LoopStep | undefined {
    const ck = this.ck;
    const p: Path = [...path, 'loop'];
    if (!Array.isArray(raw.loop)) {
      ck.error(p, `loop must be a list of steps, got ${describe(raw.loop)}`);
      return undefined;
    }
    const flat = flattenFlow(raw.loop, p);
    if (flat.length === 0) ck.error(p, 'loop has no steps');
    for (const item of flat) {
      if (isRecord(item.value) && item.value.connect !== undefined) {
        ck.warnAtKey([...item.path, 'connect'], 'connect is only honoured as the first step of a flow; this one is ignored, as in Artillery');
      }
    }
    const steps = this.steps(flat.filter((item) => !(isRecord(item.value) && item.value.connect !== undefined)));
    const count = this.loopCount([...path, 'count'], raw.count);
    let over: LoopStep['over'];
    if (raw.over !== undefined) {
      if (Array.isArray(raw.over)) {
        over = { kind: 'values', values: raw.over };
        raw.over.forEach((v, i) => {
          if (typeof v === 'string' && hasTemplate(v)) ck.warn([...path, 'over', i], 'values of an inline loop.over list are not templated (as in Artillery); this one is used as written');
        });
      }
      else if (typeof raw.over === 'string' && raw.over !== '') {
        if (hasTemplate(raw.over)) {
          const name = raw.over.replace(/[{}]/g, '').trim();
          ck.error([...path, 'over'], `loop.over takes a variable name, not a template`, `write over: ${name}`);
        } else {
          over = { kind: 'variable', name: raw.over };
          this.templateUses.push({ names: [raw.over.split(/[.[]/)[0] as string], path: [...path, 'over'] });
        }
      } else ck.error([...path, 'over'], `loop.over must be a variable name or a list, got ${describe(raw.over)}`);
    }
    let whileTrue: string | undefined;
    if (raw.whileTrue !== undefined) {
      if (typeof raw.whileTrue === 'string' && raw.whileTrue !== '') {
        whileTrue = raw.whileTrue;
        this.functionRef([...path, 'whileTrue'], whileTrue);
      } else ck.error([...path, 'whileTrue'], `loop.whileTrue must name a processor function, got ${describe(raw.whileTrue)}`);
    }
    const varName = (key: 'loopValue' | 'loopElement', dflt: string): string => {
      const v = raw[key];
      if (v === undefined) return dflt;
      if (typeof v === 'string' && /^[$\w]+$/.test(v)) {
        this.definedVars.add(v);
        return v;
      }
      ck.error([...path, key], `loop.${key} must be a variable name, got ${describe(v)}`);
      return dflt;
    };
    const indexVar = varName('loopValue', '$loopCount');
    const elementVar = varName('loopElement', '$loopElement');
    if (raw.count === undefined && raw.over === undefined && raw.whileTrue === undefined) {
      ck.warn(p, 'loop has no count, over or whileTrue: it repeats until the virtual user is stopped');
    }
    if (!count) return undefined;
    return {
      kind: 'loop',
      steps,
      count,
      ...(over ? { over } : {}),
      ...(whileTrue ? { whileTrue } : {}),
      indexVar,
      elementVar,
      location,
    };
  }

  private loopCount(path: Path, v: unknown): LoopCount | undefined {
    // engine_util parseLoopCount: a number, a numeric string, a range "1-15"; default -1 (forever).
    if (v === undefined) return { kind: 'forever' };
    if (typeof v === 'number') {
      if (v === -1) return { kind: 'forever' };
      if (Number.isInteger(v) && v >= 0) return { kind: 'range', from: 0, to: v };
    }
    if (typeof v === 'string') {
      if (hasTemplate(v)) return { kind: 'dynamic', template: this.runtimeTemplate(path, v) };
      const t = v.trim();
      if (/^\d+$/.test(t)) return { kind: 'range', from: 0, to: Number(t) };
      const m = /^(\d+)\s*-\s*(\d+)$/.exec(t);
      if (m) return { kind: 'range', from: Number(m[1]), to: Number(m[2]) };
    }
    this.ck.error(path, `loop count must be a whole number, a range like '1-10', or a template, got ${describe(v)}`);
    return undefined;
  }

  // ---------------------------------------------------------------- variables

  /**
   * Warns about templates that read a variable nothing defines. With a processor, functions can set
   * any variable, so only names that look like a typo of a known one are reported.
   */
  private checkTemplateNames(): void {
    const known = [...this.definedVars];
    for (const use of this.templateUses) {
      for (const name of use.names) {
        if (this.definedVars.has(name)) continue;
        if (name.startsWith('$')) {
          this.ck.warn(use.path, `'${name}' is not a variable wsload sets`, didYouMean(name, BUILTIN_VARS));
          continue;
        }
        const hint = didYouMean(name, known);
        if (hint === undefined && this.hasProcessor) continue;
        this.ck.warn(use.path, `variable '${name}' is not defined by config.variables, a payload or a capture`, hint ?? (this.hasProcessor ? undefined : 'it renders as undefined'));
      }
    }
  }
}

interface FlowItem {
  readonly value: unknown;
  readonly path: Path;
}

/** Flows may nest lists (YAML anchors reused as steps); Artillery flattens them (runner.js prepareScript). */
function flattenFlow(list: readonly unknown[], path: Path): FlowItem[] {
  const out: FlowItem[] = [];
  list.forEach((v, i) => {
    if (Array.isArray(v)) out.push(...flattenFlow(v, [...path, i]));
    else out.push({ value: v, path: [...path, i] });
  });
  return out;
}

function collectCaptureNames(flow: unknown, into: Set<string>): void {
  if (Array.isArray(flow)) {
    for (const v of flow) collectCaptureNames(v, into);
    return;
  }
  if (!isRecord(flow)) return;
  for (const [k, v] of Object.entries(flow)) {
    if (k === 'capture') {
      for (const c of Array.isArray(v) ? v : [v]) if (isRecord(c) && typeof c.as === 'string') into.add(c.as);
    } else if (typeof v === 'object') collectCaptureNames(v, into);
  }
}

/** engine_ws getWsOptions: a Sec-WebSocket-Protocol header becomes subprotocols (after the configured ones). */
function splitProtocolHeader(headers: Record<string, unknown>, subprotocols: readonly string[]): { headers: Record<string, unknown>; subprotocols: string[] } {
  const out: Record<string, unknown> = {};
  const protocols = [...subprotocols];
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === 'sec-websocket-protocol') {
      for (const s of String(v).split(',')) if (s.trim() && !protocols.includes(s.trim())) protocols.push(s.trim());
    } else out[k] = v;
  }
  return { headers: out, subprotocols: protocols };
}
