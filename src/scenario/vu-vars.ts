/**
 * The variables a new virtual user starts with, as Artillery's runner.js createContext builds them:
 * built-ins (`target`, `$environment`, `$env`, `$processEnvironment`, `$uuid`, …), then one CSV row per
 * payload, then `config.variables` (a list picks one value per user).
 */
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { createPayloadReader } from './payload.js';
import type { Vars } from './templates.js';
import type { ScriptPlan } from './types.js';

export interface VuVarsOptions {
  env?: NodeJS.ProcessEnv;
  /** `$testId`: one id for the whole run. */
  testId?: string;
  random?: () => number;
  uuid?: () => string;
}

/** Returns a factory; each call gives a fresh variables object for one virtual user. */
export function createVuVars(plan: ScriptPlan, opts: VuVarsOptions = {}): () => Vars {
  const env = opts.env ?? process.env;
  const random = opts.random ?? Math.random;
  const uuid = opts.uuid ?? randomUUID;
  const readers = plan.payloads.map((p) => createPayloadReader(p, random));
  const base: Vars = {
    target: plan.target,
    $environment: plan.environment,
    $processEnvironment: env,
    $env: env,
    $dirname: dirname(plan.path),
    $scenarioFile: plan.path,
  };
  if (opts.testId !== undefined) base.$testId = opts.testId;
  return () => {
    const vars: Vars = { ...base };
    for (const read of readers) read(vars);
    for (const v of plan.variables) {
      vars[v.name] = v.kind === 'value' ? v.value : v.values[Math.floor(random() * v.values.length)];
    }
    vars.$uuid = uuid();
    return vars;
  };
}
