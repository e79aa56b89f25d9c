/**
 * The typed, immutable plan a script compiles into. Everything a runner needs is decided here, once:
 * durations in ms, templates compiled to render functions, JSONPath and regexps compiled, processor
 * functions resolved. Nothing in a plan refers back to the YAML.
 */
import type { SourceLocation } from '../errors.js';
import type { Threshold } from '../thresholds/index.js';
import type { Expectation } from './matchers.js';
import type { PayloadOrder } from './payload.js';
import type { Problem } from './problems.js';
import type { Template } from './templates.js';

/** One arrival phase (Artillery `config.phases[]`), normalised. */
export type PhaseSpec =
  /** `arrivalRate` new virtual users every second for `durationMs`. */
  | (PhaseCommon & { readonly kind: 'constant'; readonly arrivalRate: number; readonly mode: 'uniform' | 'poisson' })
  /** From `arrivalRate` to `rampTo` users/second, linearly, over `durationMs`. */
  | (PhaseCommon & { readonly kind: 'ramp'; readonly arrivalRate: number; readonly rampTo: number })
  /** Exactly `arrivalCount` users spread evenly over `durationMs`. */
  | (PhaseCommon & { readonly kind: 'count'; readonly arrivalCount: number })
  /** No arrivals for `durationMs` (`pause: 10`, or `arrivalRate: 0` without a ramp). */
  | (PhaseCommon & { readonly kind: 'pause' });

interface PhaseCommon {
  /** Position in the effective phase list (after the environment is applied). */
  readonly index: number;
  readonly name?: string;
  readonly durationMs: number;
  /** Arrivals are skipped while this many virtual users of the run are still active. */
  readonly maxVusers?: number;
  readonly location: SourceLocation;
}

/** `config.variables.<name>`: one value, or a list a value is picked from for each virtual user. */
export type VariableSpec =
  | { readonly name: string; readonly kind: 'value'; readonly value: unknown }
  | { readonly name: string; readonly kind: 'pick'; readonly values: readonly unknown[] };

/** `config.payload[]`: a CSV file, parsed at load. */
export interface PayloadPlan {
  /** Absolute path of the CSV file. */
  readonly path: string;
  readonly fields: readonly string[];
  readonly order: PayloadOrder;
  readonly loadAll: boolean;
  /** With loadAll: the variable that holds every row. */
  readonly name?: string;
  readonly rows: readonly (readonly unknown[])[];
  readonly location: SourceLocation;
}

/**
 * A processor function as Artillery calls it. Flow functions get `(context, events, done)` or return a
 * promise; `connect: { function }` gets `(wsArgs, context, done)`; `whileTrue` gets `(context, next(boolean))`.
 */
export type ProcessorFunction = (...args: never[]) => unknown;

export interface ProcessorPlan {
  /** Absolute path of the module. */
  readonly path: string;
  /** The path as written in the script (for messages). */
  readonly spec: string;
  /** Every exported function, by name: named exports, then `module.exports` / `export default` members. */
  readonly functions: Readonly<Record<string, ProcessorFunction>>;
  /** The module namespace as imported. */
  readonly module: unknown;
}

/** How each virtual user opens its WebSocket. */
export interface ConnectPlan {
  /** The URL (`config.target`, or the flow's first `connect`), a template rendered per virtual user. */
  readonly target: Template;
  /** `Sec-WebSocket-Protocol` values (config.ws.subprotocols plus any given as a header). */
  readonly subprotocols: readonly string[];
  /** Handshake headers (an object template; `Sec-WebSocket-Protocol` is moved to subprotocols). */
  readonly headers: Template;
  /** Other `ws` client options: `config.tls` and `config.ws` extras (maxRedirects, …), then the connect step's. */
  readonly options: Readonly<Record<string, unknown>>;
  /** `config.ws.proxy`, kept as written ({ url, … }); the runner decides how to honour it. */
  readonly proxy?: Readonly<Record<string, unknown>>;
  /** `connect: { function: name }`: a processor function that may change `{ target, subprotocols, options }`. */
  readonly function?: string;
  /** The connect step, or the scenario when the connection is implicit. */
  readonly location: SourceLocation;
}

interface StepCommon {
  readonly location: SourceLocation;
}

/** Send one text message: `send: 'text'`, `send: { … }` (JSON), or `send: { payload, capture, match }`. */
export interface SendStep extends StepCommon {
  readonly kind: 'send';
  /** Renders the payload; objects are sent as JSON, everything else as text (see `serializePayload`). */
  readonly payload: Template;
  /** The exact text to send when the payload has no template: no work per message. */
  readonly text?: string;
  /** With capture/match: the reply to wait for. */
  readonly expect?: Expectation;
  readonly timeoutMs: number;
}

/** Send one binary message (wsload extension): `sendBinary: { base64 | hex }`. */
export interface SendBinaryStep extends StepCommon {
  readonly kind: 'sendBinary';
  /** The bytes, when they contain no template. */
  readonly bytes?: Buffer;
  /** Otherwise: render the text, then decode it with `encoding`. */
  readonly data: Template;
  readonly encoding: 'base64' | 'hex';
  readonly expect?: Expectation;
  readonly timeoutMs: number;
}

/** Wait for an inbound message that satisfies every strict match, then capture from it. */
export interface WaitStep extends StepCommon {
  readonly kind: 'wait';
  readonly expect: Expectation;
  readonly timeoutMs: number;
}

/** Pause the virtual user. */
export interface ThinkStep extends StepCommon {
  readonly kind: 'think';
  /** Milliseconds, when fixed. */
  readonly ms?: number;
  /** `think: '{{ pause }}'`: seconds (or a duration) rendered per virtual user. */
  readonly dynamic?: Template;
  /** `jitter: 20%` or `jitter: 300` (ms): the pause varies by ± this much. */
  readonly jitter?: Jitter;
}

export type Jitter = { readonly kind: 'percent'; readonly value: number } | { readonly kind: 'ms'; readonly value: number };

/** A loop count: a fixed range (`count: 20` is 0..20), a template rendered per run, or forever. */
export type LoopCount =
  | { readonly kind: 'range'; readonly from: number; readonly to: number }
  | { readonly kind: 'dynamic'; readonly template: Template }
  | { readonly kind: 'forever' };

export interface LoopStep extends StepCommon {
  readonly kind: 'loop';
  readonly steps: readonly StepPlan[];
  readonly count: LoopCount;
  /** `over: name` (a list variable) or `over: [a, b]`: one iteration per element; wins over count. */
  readonly over?: { readonly kind: 'variable'; readonly name: string } | { readonly kind: 'values'; readonly values: readonly unknown[] };
  /** A processor function asked after each iteration whether to go on. */
  readonly whileTrue?: string;
  /** Variable holding the iteration index (default `$loopCount`, starts at `from`, 0 for `count: n`). */
  readonly indexVar: string;
  /** Variable holding the current element of `over` (default `$loopElement`). */
  readonly elementVar: string;
}

export interface FunctionStep extends StepCommon {
  readonly kind: 'function';
  readonly name: string;
}

export interface LogStep extends StepCommon {
  readonly kind: 'log';
  readonly message: Template;
}

export type StepPlan = SendStep | SendBinaryStep | WaitStep | ThinkStep | LoopStep | FunctionStep | LogStep;
export type StepKind = StepPlan['kind'];

export interface ScenarioPlan {
  readonly index: number;
  /** As written, or `scenarios[i]` when unnamed. */
  readonly name: string;
  readonly weight: number;
  readonly connect: ConnectPlan;
  /** Processor functions run before the flow / after it (also after a failure). */
  readonly beforeScenario: readonly string[];
  readonly afterScenario: readonly string[];
  readonly steps: readonly StepPlan[];
  readonly location: SourceLocation;
}

/** `config.wsload`: wsload's own settings. */
export interface WsloadSettings {
  /**
   * How replies are tied to requests for latency: `{ field: 'id' }` matches a reply carrying the same
   * value in that field; `false` turns correlation off. Undefined: the runner's default.
   */
  readonly correlation?: { readonly field: string } | false;
  /** How long to wait for in-flight replies when a virtual user ends, in ms. */
  readonly graceMs?: number;
}

export interface ScriptPlan {
  /** The script path as given (for messages). */
  readonly file: string;
  /** Absolute path of the script. */
  readonly path: string;
  /** The environment that was applied, if any. */
  readonly environment?: string;
  /** `config.target` after environment and override; undefined when every scenario connects on its own. */
  readonly target?: string;
  readonly phases: readonly PhaseSpec[];
  /** Sum of the phase durations. */
  readonly totalDurationMs: number;
  readonly variables: readonly VariableSpec[];
  readonly payloads: readonly PayloadPlan[];
  readonly processor?: ProcessorPlan;
  /** Default reply timeout for capture/match (`config.timeout` or `config.ws.timeout`, default 10 s). */
  readonly timeoutMs: number;
  /** `config.defaults.think.jitter`, applied to every think step without its own. */
  readonly thinkJitter?: Jitter;
  readonly wsload: WsloadSettings;
  /** Kept as written for later features (thresholds) and plugins. */
  readonly ensure?: unknown;
  readonly plugins?: unknown;
  /** Thresholds declared by the script (`config.slo`, `config.ensure`), parsed and checked at load. */
  readonly thresholds: readonly Threshold[];
  readonly scenarios: readonly ScenarioPlan[];
  readonly totalWeight: number;
  /** Problems that did not stop the load. */
  readonly warnings: readonly Problem[];
}

export interface LoadOptions {
  /** `config.environments.<name>` to apply. */
  environment?: string;
  /** Beats the script's and the environment's target. */
  target?: string;
  /** For `{{ $env.X }}` / `{{ $processEnvironment.X }}` in config (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Skip importing the processor (function names are then not checked). */
  skipProcessor?: boolean;
}
