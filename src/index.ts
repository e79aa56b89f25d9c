/**
 * wsload as a library: the public API, an explicit export list. Everything else under src/ is
 * internal. The command line (`wsload`) is built on exactly these pieces.
 */
export { WsloadError, ExitCode, type WsloadErrorCode, type SourceLocation } from './errors.js';
export { realClock, FakeClock, type Clock } from './clock.js';

// The reference server.
export { startServer, type ServerOptions, type RunningServer } from './server/index.js';

// Load generation.
export { runStress, type StressOptions, type StressResult } from './engine/stress.js';
export { runScript, type RunResult } from './engine/run.js';
export { runStressDistributed, runScriptDistributed } from './workers/coordinator.js';

// Scripts (Artillery v2, engine: ws).
export { loadScript, loadScriptText, ScriptError, type Problem } from './scenario/index.js';
export type { ScriptPlan, ScenarioPlan, StepPlan, PhaseSpec } from './scenario/index.js';

// Metrics.
export {
  initHistograms,
  MetricsRecorder,
  mergeSnapshots,
  summarizeSnapshot,
  summarizeEncoded,
  type MetricsSnapshot,
  type IntervalSample,
  type LatencySummary,
} from './metrics/index.js';

// Thresholds and reports.
export { buildThresholdSet, createMetricView, evaluate, overall, parseCliThresholds, type Verdict } from './thresholds/index.js';
export { enrichReport, readReport, mergeReports, REPORT_SCHEMA, type WsloadReport } from './report/document.js';
export { validateReport, reportJsonSchema } from './report/schema.js';
