/**
 * The gate in front of the WebSocket upgrade: origin, token and capacity checks, each answered with a
 * real HTTP status (a client should see 401/403/503, not a reset) and a reason the metrics count.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RejectReason } from './metrics.js';

/** A refused upgrade: what to answer and what to count. */
export interface Refusal {
  readonly status: number;
  readonly reason: RejectReason;
  readonly text: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Realm named in `WWW-Authenticate`. */
const REALM = 'wsload';

/**
 * Checks a bearer token in constant time: both sides are hashed to 32-byte SHA-256 digests first, so
 * `timingSafeEqual` always compares equal lengths and the token's length does not leak either.
 */
export class TokenCheck {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /** The request's token from `Authorization: Bearer …`, else from `?token=`; undefined when it has none. */
  static tokenOf(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      return m === null ? '' : m[1];
    }
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (q === -1) return undefined;
    return new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined;
  }

  /** undefined when the request carries the right token; else the 401 to answer. */
  check(req: IncomingMessage): Refusal | undefined {
    const given = TokenCheck.tokenOf(req);
    if (given !== undefined && timingSafeEqual(sha256(given), this.digest)) return undefined;
    return {
      status: 401,
      reason: 'unauthorized',
      text: given === undefined
        ? 'unauthorized: send the token as "Authorization: Bearer <token>" or ?token=<token>'
        : 'unauthorized: the token is not valid',
      headers: {
        'WWW-Authenticate': given === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`,
      },
    };
  }
}

/**
 * undefined when the Origin header is absent or allowed; else the 403 to answer. A missing Origin is
 * allowed: browsers always send one, and the check exists to stop other sites' pages (cross-site
 * WebSocket hijacking); a non-browser client could send any Origin it likes anyway.
 */
export function checkOrigin(req: IncomingMessage, allowed: ReadonlySet<string>): Refusal | undefined {
  const origin = req.headers.origin;
  if (allowed.size === 0 || origin === undefined || allowed.has(origin) || allowed.has(origin.toLowerCase())) return undefined;
  return {
    status: 403,
    reason: 'forbidden_origin',
    text: `forbidden: origin ${JSON.stringify(origin.length > 100 ? `${origin.slice(0, 100)}…` : origin)} is not allowed`,
  };
}

/** undefined while there is room; else the 503 to answer. */
export function checkCapacity(open: number, maxConnections: number): Refusal | undefined {
  if (open < maxConnections) return undefined;
  return {
    status: 503,
    reason: 'max_connections',
    text: `too many connections: this server accepts at most ${maxConnections}; try again later`,
    headers: { 'Retry-After': '1' },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
