/**
 * Did the target go away during the run? Fed one event per connection outcome (never per message),
 * it answers at the end: the run's last connection events were all "the target is gone" (closes
 * without a close frame, resets, refused or timed-out handshakes) with nothing succeeding after the
 * first of them. Pure; the run decides what to do with the answer (docs/exit-codes.md).
 */
import { UNREACHABLE_KINDS } from './connection.js';

/** Close kinds of an open connection that say the server (or the path to it) went away. */
export const TARGET_GONE_CLOSE_KINDS: ReadonlySet<string> = new Set([
  'connection_closed_1006', // no close frame: the process died, the host or network went away
  'connection_reset',
  'connection_closed_1001', // going away: the server is shutting down
  'connection_closed_1012', // service restart
]);

/** Handshake failures that prove the server is up (it answered): they end a streak. */
function serverAnswered(kind: string): boolean {
  return kind.startsWith('handshake_rejected_') || kind === 'handshake_invalid' || kind === 'subprotocol_mismatch' || kind === 'tls_error';
}

/** The counter a run sets to 1 when its target went away (absent otherwise). */
export const TARGET_LOST_METRIC = 'target.lost';

export class TargetWatch {
  private everOpened = 0;
  /** "Gone" events since the last sign of life. */
  private streak = 0;

  /** A handshake completed: the target is alive. */
  opened(): void {
    this.everOpened++;
    this.streak = 0;
  }

  /** A handshake failed with `kind`. */
  connectFailed(kind: string): void {
    if (UNREACHABLE_KINDS.has(kind) || kind === 'connection_reset') this.streak++;
    else if (serverAnswered(kind)) this.streak = 0;
    // Anything else (connect_aborted, fd_limit, no_source_port) says nothing about the target.
  }

  /**
   * An open connection closed. `dropKind`: the error kind when it closed under us (undefined when the
   * client was done with it); `code`: the close code.
   */
  closed(code: number, dropKind: string | undefined): void {
    if (dropKind === undefined) {
      // A clean end is a sign of life; our own close after a timeout (1006) says nothing.
      if (code === 1000 || code === 1005) this.streak = 0;
      return;
    }
    if (TARGET_GONE_CLOSE_KINDS.has(dropKind)) this.streak++;
    else if (dropKind.startsWith('connection_closed_') || dropKind === 'protocol_error') this.streak = 0;
    // Our own decisions (connection_stalled, send_failed) say nothing about the target.
  }

  /**
   * True when connections had opened, and the run ended on a streak of "gone" events (at least two,
   * unless only one connection ever opened) with no sign of life after its first: the target died,
   * restarted or became unreachable mid-run, and the rest of the planned work could not be done.
   */
  get lost(): boolean {
    return this.everOpened > 0 && this.streak >= Math.min(2, this.everOpened);
  }
}
