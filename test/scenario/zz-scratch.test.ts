import { it } from 'vitest';
import { loadScript } from '../../src/scenario/index.js';
import { ScriptError, formatProblem } from '../../src/scenario/problems.js';
it('scratch', async () => {
  try {
    const plan = await loadScript('test/fixtures/scripts/chat.yml', { env: {} });
    console.log(plan.warnings.map(formatProblem));
    console.log(JSON.stringify(plan, (k, v) => typeof v === 'function' ? (v.isStatic !== undefined ? `[tpl ${JSON.stringify(v.source)}]` : '[fn]') : v, 1).replace(/\n\s*/g, ' ').slice(0, 6000));
  } catch (e) {
    if (e instanceof ScriptError) console.log(e.problems.map(formatProblem).join('\n')); else throw e;
  }
});
