/**
 * A cluster worker's side of the IPC with the primary (docs/serve.md#cluster-mode): publishes that must
 * reach the other workers' subscribers, and the cluster-wide /healthz and /metrics. The server
 * (`startServer`) binds its local state to it; the worker entry (cluster-worker.ts) feeds it messages.
 * Every wait is bounded by the primary's gather timeout; if the primary goes away the worker exits (Node's
 * cluster does that on an unexpected disconnect), and `flush()` answers whatever is still pending.
 */
import { CLUSTER_GATHER_TIMEOUT_MS, type ClusterHealth, type MetricsJson, type ToPrimary, type ToWorker, type WorkerHealth } from './cluster-protocol.js';
import type { ClusterPublisher, Peer } from './peer.js';
import { replyPublished } from './protocol-handler.js';

/** What the link needs from the server it belongs to. */
export interface LocalServer {
  /** Deliver a channel message to this worker's subscribers; returns how many got it (and counts them). */
  deliver(channel: string, json: string): number;
  health(): Omit<WorkerHealth, 'worker'>;
  /** undefined when metrics are off. */
  metricsJson(): Promise<MetricsJson> | undefined;
}

interface PendingPublish {
  peer: Peer;
  id: unknown;
  channel: string;
  timestamp: unknown;
  local: number;
  receivedAt: number;
}

interface PendingAsk {
  resolve(answer: Extract<ToWorker, { wsload: 'answer' }>): void;
}

export class WorkerLink implements ClusterPublisher {
  private local: LocalServer | undefined;
  private nextRid = 1;
  private readonly publishes = new Map<number, PendingPublish>();
  private readonly asks = new Map<number, PendingAsk>();

  /**
   * @param worker this worker's number (1…N), reported in /healthz
   * @param send posts a message to the primary (a no-op once the channel is closed)
   */
  constructor(private readonly worker: number, private readonly send: (message: ToPrimary) => void) {}

  bind(local: LocalServer): void {
    this.local = local;
  }

  publish(peer: Peer, id: unknown, channel: string, timestamp: unknown, localRecipients: number, json: string): void {
    const rid = this.nextRid++;
    this.publishes.set(rid, { peer, id, channel, timestamp, local: localRecipients, receivedAt: peer.receivedAt });
    this.send({ wsload: 'publish', rid, channel, json });
  }

  /** Cluster-wide health, gathered by the primary. */
  async health(): Promise<ClusterHealth> {
    const answer = await this.ask('health');
    if (answer.health === undefined) throw new Error(answer.error ?? 'no health from the primary');
    return answer.health;
  }

  /** Cluster-wide Prometheus text, aggregated by the primary. */
  async metrics(): Promise<string> {
    const answer = await this.ask('metrics');
    if (answer.metrics === undefined) throw new Error(answer.error ?? 'no metrics from the primary');
    return answer.metrics;
  }

  /** Handle a message from the primary; returns false if it is not one of the link's. */
  onMessage(message: ToWorker): boolean {
    switch (message.wsload) {
      case 'fanout': {
        const count = this.local === undefined ? 0 : this.local.deliver(message.channel, message.json);
        this.send({ wsload: 'delivered', gid: message.gid, count });
        return true;
      }
      case 'published': {
        const p = this.publishes.get(message.rid);
        if (p === undefined) return true;
        this.publishes.delete(message.rid);
        replyPublished(p.peer, p.id, p.channel, p.local + message.recipients, p.timestamp, p.receivedAt);
        return true;
      }
      case 'collect':
        void this.report(message.gid, message.kind);
        return true;
      case 'answer': {
        const a = this.asks.get(message.rid);
        if (a === undefined) return true;
        this.asks.delete(message.rid);
        a.resolve(message);
        return true;
      }
      default:
        return false;
    }
  }

  /** On shutdown: answer pending publishes with the local count, fail pending asks. */
  flush(): void {
    for (const p of this.publishes.values()) replyPublished(p.peer, p.id, p.channel, p.local, p.timestamp, p.receivedAt);
    this.publishes.clear();
    for (const [rid, a] of this.asks) a.resolve({ wsload: 'answer', rid, error: 'the worker is shutting down' });
    this.asks.clear();
  }

  private ask(kind: 'health' | 'metrics'): Promise<Extract<ToWorker, { wsload: 'answer' }>> {
    const rid = this.nextRid++;
    return new Promise((resolve) => {
      // A backstop only: the primary always answers within its gather timeout.
      const timer = setTimeout(() => {
        this.asks.delete(rid);
        resolve({ wsload: 'answer', rid, error: 'the primary did not answer' });
      }, 3 * CLUSTER_GATHER_TIMEOUT_MS);
      this.asks.set(rid, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
      });
      this.send({ wsload: 'ask', rid, kind });
    });
  }

  private async report(gid: number, kind: 'health' | 'metrics'): Promise<void> {
    const local = this.local;
    if (local === undefined) {
      this.send({ wsload: 'report', gid, error: 'not started' });
      return;
    }
    if (kind === 'health') {
      this.send({ wsload: 'report', gid, health: { worker: this.worker, ...local.health() } });
      return;
    }
    try {
      const metrics = await local.metricsJson();
      this.send(metrics === undefined ? { wsload: 'report', gid, error: 'metrics are off' } : { wsload: 'report', gid, metrics });
    } catch (err) {
      this.send({ wsload: 'report', gid, error: err instanceof Error ? err.message : String(err) });
    }
  }
}
