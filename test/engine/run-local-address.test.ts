/**
 * Source-address spreading in a script run (`RunOptions.localAddresses`): each new user binds the next
 * address round-robin, unless its own ws options set one. Real sockets: Linux routes all of 127/8 to
 * lo, so a server on 127.0.0.1 sees connections from 127.0.0.2, 127.0.0.3, ….
 */
import { describe, expect, it } from 'vitest';
import { startLabServer, type LabServer } from '../fixtures/run/lab-server.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run } from './run-helpers.js';

const { track } = closeAfterEach();
const lab = (): Promise<LabServer> => track(startLabServer());

const FOUR = '    - { duration: 0.2, arrivalCount: 4 }';
const tally = (addresses: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const a of addresses) out[a] = (out[a] ?? 0) + 1;
  return out;
};

describe.runIf(process.platform === 'linux')('source addresses', () => {
  it('each new user binds the next address, round-robin', async () => {
    const l = await lab();
    const { s } = await run({ target: l.url, phases: FOUR, flow: '- send: hi' }, { localAddresses: ['127.0.0.2', '127.0.0.3'] });
    expect(s.vusers).toMatchObject({ created: 4, completed: 4, failed: 0 });
    expect(tally(l.remoteAddresses)).toEqual({ '127.0.0.2': 2, '127.0.0.3': 2 });
  });

  it('one address: every user binds it', async () => {
    const l = await lab();
    const { s } = await run({ target: l.url, phases: FOUR, flow: '- send: hi' }, { localAddresses: ['127.0.0.4'] });
    expect(s.vusers.completed).toBe(4);
    expect(l.remoteAddresses).toEqual(['127.0.0.4', '127.0.0.4', '127.0.0.4', '127.0.0.4']);
  });

  it('none given: the OS picks (127.0.0.1 towards 127.0.0.1)', async () => {
    const l = await lab();
    const { s } = await run({ target: l.url, phases: FOUR, flow: '- send: hi' });
    expect(s.vusers.completed).toBe(4);
    expect(l.remoteAddresses).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });

  it("a script whose config.ws sets localAddress keeps its own", async () => {
    const l = await lab();
    const { s } = await run(
      { target: l.url, phases: FOUR, config: '  ws:\n    localAddress: "127.0.0.4"', flow: '- send: hi' },
      { localAddresses: ['127.0.0.2', '127.0.0.3'] },
    );
    expect(s.vusers.completed).toBe(4);
    expect(l.remoteAddresses).toEqual(['127.0.0.4', '127.0.0.4', '127.0.0.4', '127.0.0.4']);
  });

  it('so does a user whose connect function sets it', async () => {
    const l = await lab();
    const { s } = await run(
      { target: l.url, phases: FOUR, flow: '- connect:\n    function: connectFrom\n- send: hi' },
      { localAddresses: ['127.0.0.2', '127.0.0.3'] },
    );
    expect(s.vusers.completed).toBe(4);
    expect(l.remoteAddresses).toEqual(['127.0.0.5', '127.0.0.5', '127.0.0.5', '127.0.0.5']);
  });
});
