/**
 * Scripts: Artillery v2 WebSocket scripts loaded into an immutable, pre-compiled plan.
 */
export { loadScript, loadScriptText } from './load.js';
export { ScriptError, formatProblem, sortProblems, type Problem, type Severity } from './problems.js';
export { compileTemplate, compilePath, serializePayload, TEMPLATE_FUNCTIONS, type Template, type Vars } from './templates.js';
export { compileJsonPath, JsonPathError, type JsonPath } from './jsonpath.js';
export {
  checkExpectation,
  extractValue,
  matchesAll,
  toInbound,
  type CaptureSpec,
  type Expectation,
  type ExpectationFailure,
  type ExpectationResult,
  type Extractor,
  type InboundMessage,
  type MatchSpec,
} from './matchers.js';
export { createPayloadReader, parseCsv, CsvError } from './payload.js';
export { createVuVars, type VuVarsOptions } from './vu-vars.js';
export { parseDurationMs, formatDurationMs } from './duration.js';
export type * from './types.js';
