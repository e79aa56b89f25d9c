/**
 * The channel → subscribers index used for publish fan-out. A connection's own subscription set lives on
 * the peer; this index is the reverse direction, and the two are only ever changed together here.
 */
import { deliver } from './backpressure.js';
import type { Peer } from './peer.js';

/** Send options for a pre-encoded text frame: a Buffer would otherwise go out as a binary frame. */
const TEXT_FRAME = { binary: false } as const;

export class ChannelIndex {
  private readonly subscribers = new Map<string, Set<Peer>>();

  /** Subscribe `peer` to `channel`; subscribing twice is a no-op. */
  subscribe(peer: Peer, channel: string): void {
    let set = this.subscribers.get(channel);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(channel, set);
    }
    set.add(peer);
    (peer.subscriptions ??= new Set()).add(channel);
  }

  /** Unsubscribe `peer` from `channel`; idempotent, so a client never has to know what it subscribed to. */
  unsubscribe(peer: Peer, channel: string): void {
    peer.subscriptions?.delete(channel);
    const set = this.subscribers.get(channel);
    if (set === undefined) return;
    set.delete(peer);
    // Drop empty channels so a stream of one-off channel names does not grow the map forever.
    if (set.size === 0) this.subscribers.delete(channel);
  }

  /** Remove every subscription of a closed peer. */
  removePeer(peer: Peer): void {
    const subscriptions = peer.subscriptions;
    if (subscriptions === undefined) return;
    for (const channel of subscriptions) this.unsubscribe(peer, channel);
  }

  /**
   * Send one already-serialized text frame to every open subscriber of `channel` and return how many
   * were sent. The JSON is encoded to bytes once, not once per subscriber, and every write queue holds the
   * same Buffer. A closing peer (it stays indexed until its 'close' event) or one closed here for not
   * reading (backpressure) is not a recipient.
   */
  publish(channel: string, json: string): number {
    const set = this.subscribers.get(channel);
    if (set === undefined) return 0;
    const frame = Buffer.from(json);
    let recipients = 0;
    for (const peer of set) {
      if (deliver(peer, frame, TEXT_FRAME)) recipients++;
    }
    return recipients;
  }

  /** Number of channels with at least one subscriber. */
  get size(): number {
    return this.subscribers.size;
  }
}
