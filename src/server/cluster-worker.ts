/**
 * Entry point of one `wsload serve --workers N` worker process (forked by cluster.ts with `node:cluster`;
 * not a module to import). It waits for its options from the primary, runs `startServer` on the shared
 * port with a `WorkerLink` for cross-worker publish and the cluster-wide /healthz and /metrics, and stops
 * on the primary's `shutdown` or on SIGINT/SIGTERM (Ctrl-C in a terminal reaches the whole process group):
 * 1001 to its clients, then exit 0. If the primary dies, Node's cluster ends the worker at once.
 */
import cluster from 'node:cluster';
import { WsloadError } from '../errors.js';
import { WorkerLink } from './cluster-link.js';
import { isWsloadMessage, type ToPrimary, type ToWorker } from './cluster-protocol.js';
import { startServer, type RunningServer } from './index.js';

if (!cluster.isWorker || process.send === undefined) {
  process.stderr.write('error: cluster-worker.js is started by `wsload serve --workers N`, not run directly\n');
  process.exit(2);
}

function send(message: ToPrimary): void {
  if (process.connected) process.send?.(message, undefined, undefined, ignore);
}

let link: WorkerLink | undefined;
let server: RunningServer | undefined;
let stopping: Promise<void> | undefined;
let signals = 0;

process.on('message', (message: unknown) => {
  if (!isWsloadMessage(message)) return;
  const m = message as ToWorker;
  if (link?.onMessage(m) === true) return;
  if (m.wsload === 'start') void start(m);
  else if (m.wsload === 'shutdown') void stop();
});

const onSignal = (): void => {
  // The first signal (or the primary's shutdown, whichever comes first) starts the bounded shutdown; a
  // second one leaves at once, as the single-process CLI does.
  if (++signals > 1) process.exit(130);
  void stop();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

send({ wsload: 'ready' });

async function start(m: Extract<ToWorker, { wsload: 'start' }>): Promise<void> {
  if (link !== undefined) return;
  link = new WorkerLink(m.worker, send);
  try {
    server = await startServer({
      ...m.options,
      ...(m.log ? { log: (line: string) => { send({ wsload: 'log', line }); } } : {}),
    }, link);
  } catch (err) {
    send(err instanceof WsloadError
      ? { wsload: 'failed', message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) }
      : { wsload: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  if (stopping !== undefined) {
    // A shutdown arrived while the server was starting.
    await server.close();
    return;
  }
  send({ wsload: 'listening', port: server.port });
}

function stop(): Promise<void> {
  return (stopping ??= (async () => {
    await server?.close();
    process.exit(0);
  })());
}

function ignore(): void {}
