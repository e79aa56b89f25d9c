import { describe, expect, it } from 'vitest';
import { loadScriptText } from '../../src/scenario/load.js';
import { formatProblem, ScriptError } from '../../src/scenario/problems.js';
import { collectFunctions } from '../../src/scenario/processor.js';

const FILE = 'test/fixtures/scripts/processors/script.yml';

function script(processor: string, flow = '      - function: greet\n'): string {
  return `config:\n  target: ws://localhost:8000/ws\n  processor: "${processor}"\nscenarios:\n  - engine: ws\n    beforeScenario: setUp\n    flow:\n${flow}`;
}

async function problems(text: string): Promise<string[]> {
  try {
    await loadScriptText(text, FILE, { env: {} });
    return [];
  } catch (err) {
    if (err instanceof ScriptError) return err.problems.map(formatProblem);
    throw err;
  }
}

type Flow = (context: { vars: Record<string, unknown> }, events: unknown, done: () => void) => unknown;

describe('processor modules', () => {
  it.each([
    ['JS, ES module (.mjs, named exports)', './esm.mjs'],
    ['JS, ES module (.mjs, export default { … })', './default-export.mjs'],
    ['JS, ES module (.js in a "type": "module" package)', './esm-plain.js'],
    ['JS, CommonJS (.cjs, module.exports = { … })', './cjs.cjs'],
    ['JS, CommonJS (.cjs, exports.fn = …)', './exports-dot.cjs'],
    ['JS, CommonJS (.js in a "type": "commonjs" package)', '../seed/websocket_processor.js'],
    ['TS, ES module (.ts)', './typed.ts'],
    ['TS, CommonJS (.cts, module.exports = { … })', './typed-cjs.cts'],
    ['TS, ES module (.mts, export default { … })', './typed-default.mts'],
  ])('%s', async (_kind, path) => {
    const seed = path.includes('seed');
    const flow = seed ? '      - function: sendAgentMessage\n' : undefined;
    const text = seed ? script(path, flow).replace('beforeScenario: setUp', 'beforeScenario: generateUserId') : script(path);
    const plan = await loadScriptText(text, FILE, { env: {} });
    const fns = plan.processor!.functions;
    const name = seed ? 'generateUserId' : 'greet';
    expect(typeof fns[name]).toBe('function');
    const context = { vars: { name: 'ann' } as Record<string, unknown> };
    await new Promise<void>((resolve) => {
      const r = (fns[name] as Flow)(context, {}, resolve);
      if (r instanceof Promise) void r.then(() => resolve());
    });
    expect(context.vars[seed ? 'userId' : 'greeting']).toBeTypeOf('string');
  });

  it('reports functions the module does not export, at the reference, with a suggestion', async () => {
    expect(
      await problems(
        script(
          './typed.ts',
          '      - connect: {function: setUrl}\n      - function: greeet\n      - loop: [{send: x}]\n        whileTrue: keepGoing\n',
        ).replace('beforeScenario: setUp', 'afterScenario: [setUp, setup]'),
      ),
    ).toEqual([
      "test/fixtures/scripts/processors/script.yml:6:28: error: function 'setup' is not exported by ./typed.ts — did you mean 'setUp'?",
      "test/fixtures/scripts/processors/script.yml:8:29: error: function 'setUrl' is not exported by ./typed.ts — did you mean 'setUp'?",
      "test/fixtures/scripts/processors/script.yml:9:19: error: function 'greeet' is not exported by ./typed.ts — did you mean 'greet'?",
      "test/fixtures/scripts/processors/script.yml:11:20: error: function 'keepGoing' is not exported by ./typed.ts — it exports greet, setUp",
    ]);
  });

  it('reports a processor that is missing, does not compile or throws, at config.processor', async () => {
    expect(await problems(script('./nope.js'))).toEqual(["test/fixtures/scripts/processors/script.yml:3:14: error: processor './nope.js' not found"]);
    expect(await problems(script('./broken.ts'))).toEqual([
      `test/fixtures/scripts/processors/script.yml:3:14: error: processor './broken.ts' could not be loaded: Expected ")" but found ":" (broken.ts:1:64)`,
    ]);
    expect(await problems(script('./throws.cjs'))).toEqual([
      "test/fixtures/scripts/processors/script.yml:3:14: error: processor './throws.cjs' could not be loaded: processor exploded on load",
    ]);
  });

  it('can skip importing the processor', async () => {
    const plan = await loadScriptText(script('./throws.cjs'), FILE, { env: {}, skipProcessor: true });
    expect(plan.processor).toBe(undefined);
  });
});

describe('collectFunctions', () => {
  it('takes named exports first, then default-object members, one level of nested default too', () => {
    const named = () => 'named';
    const fromDefault = () => 'default';
    const nested = () => 'nested';
    const fns = collectFunctions({ a: named, value: 1, default: { a: fromDefault, b: fromDefault, default: { c: nested } } });
    expect(Object.keys(fns)).toEqual(['a', 'b', 'c']);
    expect(fns.a).toBe(named);
    expect(Object.isFrozen(fns)).toBe(true);
  });
});
