/**
 * The live dashboard's HTTP server: the page, uPlot from the installed package, the run over
 * Server-Sent Events (the history so far on connect, then a point a second, then the end), the
 * final HTML report at /report.html, and POST /stop (end the run as Ctrl-C does) and POST /close
 * (stop lingering once the run is over). Loopback by default; nothing is fetched from anywhere else.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WsloadReport } from '../report/document.js';
import { errorRows, verdictActual } from '../report/figures.js';
import { renderHtml, uplotAssets } from '../report/html.js';
import { CHARTS_JS } from '../report/charts-client.js';
import { verdictDetail, type Verdict } from '../thresholds/index.js';
import { ASSET_PATHS, DASHBOARD_JS, renderDashboardPage } from './dashboard-page.js';
import type { FeedEvent, LiveFeed } from './feed.js';

export interface DashboardOptions {
  feed: LiveFeed;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The page's Stop button (once, while the run runs): end the run as Ctrl-C does. */
  onStop: () => void;
  /** wsload's version, shown in the page. */
  version: string;
  /** Epoch ms the run started (for the page's "Started"). */
  startedAt?: number;
}

export interface Dashboard {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** The final report: served at /report.html (and /report.json) from now on. */
  setReport(report: WsloadReport): void;
  /** Resolves when the page asks to close the dashboard (its Close button, after the run). */
  readonly closeRequested: Promise<void>;
  /** True once the Stop button has stopped the run. */
  readonly stoppedFromPage: boolean;
  /** Ends every stream and stops listening (bounded: open sockets are destroyed). */
  close(): Promise<void>;
}

/** Event streams one dashboard serves at most: a page left open in many tabs must not grow without bound. */
export const MAX_STREAMS = 32;
/** A comment line this often keeps proxies and idle-timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A verdict as the page lists it. */
interface VerdictRow {
  status: Verdict['status'];
  name: string;
  actual: string;
  detail: string;
}

const verdictRows = (verdicts: readonly Verdict[]): VerdictRow[] =>
  verdicts.map((v) => ({ status: v.status, name: v.name, actual: verdictActual(v), detail: verdictDetail(v) }));

/** What every message carries besides its own fields: the figures a page redraws from. */
function figures(feed: LiveFeed): Record<string, unknown> {
  const { verdicts: _verdicts, ...state } = feed.state();
  return { state, phases: feed.phases(), verdicts: verdictRows(feed.verdicts()), errors: errorRows(feed.errors()) };
}

const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim());
  return m ? m[1]!.replace(/^\[|\]$/g, '').toLowerCase() : undefined;
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const { feed } = opts;
  const host = opts.host ?? '127.0.0.1';
  const loopbackOnly = LOOPBACK.has(host);
  const startedAt = opts.startedAt ?? Date.now();
  const page = renderDashboardPage(feed.meta, opts.version);
  const streams = new Set<ServerResponse>();
  let report: WsloadReport | undefined;
  let reportHtml: string | undefined;
  let stopped = false;
  let requestClose!: () => void;
  const closeRequested = new Promise<void>((resolve) => { requestClose = resolve; });

  const broadcast = (text: string): void => {
    for (const res of streams) res.write(text);
  };
  const unsubscribe = feed.subscribe((e: FeedEvent) => {
    if (e.type === 'point') {
      broadcast(sse('point', { point: e.point, index: feed.series().length - 1, ...figures(feed) }));
    } else if (e.type === 'status') {
      broadcast(sse('status', { status: e.status }));
    } else {
      broadcast(sse('end', endMessage()));
    }
  });
  const endMessage = (): Record<string, unknown> => ({
    end: feed.ended,
    series: feed.series(),
    ...figures(feed),
    ...(report !== undefined ? { reportUrl: '/report.html' } : {}),
  });
  const heartbeat = setInterval(() => broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();

  const send = (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...extra });
    res.end(body);
  };
  const text = (res: ServerResponse, status: number, body: string): void => send(res, status, 'text/plain; charset=utf-8', `${body}\n`);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // DNS rebinding: on loopback, only answer requests addressed to a loopback name.
    if (loopbackOnly && !LOOPBACK.has(hostOf(req.headers.host) ?? '')) return text(res, 421, 'misdirected request');
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (method === 'POST' && (path === '/stop' || path === '/close')) {
      // Only the page can ask: a cross-site form cannot set this header, and a cross-site fetch
      // that sets it needs a CORS preflight this server never grants.
      if (req.headers['x-wsload'] !== path.slice(1)) return text(res, 403, `missing header X-Wsload: ${path.slice(1)}`);
      req.resume();
      if (path === '/close') {
        if (feed.ended === undefined) return text(res, 409, 'the run is still running: use /stop');
        requestClose();
        return text(res, 202, 'closing');
      }
      if (feed.ended !== undefined) return text(res, 409, 'the run has ended');
      if (!stopped) {
        stopped = true;
        feed.stopping();
        opts.onStop();
      }
      return text(res, 202, 'stopping');
    }
    if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD, POST' });
    switch (path) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html; charset=utf-8', page, {
          'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          'Referrer-Policy': 'no-referrer',
        });
      case ASSET_PATHS.uplotJs:
        return send(res, 200, 'text/javascript; charset=utf-8', uplotAssets().js);
      case ASSET_PATHS.uplotCss:
        return send(res, 200, 'text/css; charset=utf-8', uplotAssets().css);
      case ASSET_PATHS.chartsJs:
        return send(res, 200, 'text/javascript; charset=utf-8', CHARTS_JS);
      case ASSET_PATHS.dashboardJs:
        return send(res, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS);
      case '/report.html':
        if (report === undefined) return text(res, 404, 'the report is ready when the run ends');
        reportHtml ??= renderHtml(report);
        return send(res, 200, 'text/html; charset=utf-8', reportHtml);
      case '/report.json':
        if (report === undefined) return text(res, 404, 'the report is ready when the run ends');
        return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(report, null, 2)}\n`);
      case '/events': {
        if (streams.size >= MAX_STREAMS) return text(res, 503, `at most ${MAX_STREAMS} pages at once`);
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
        // The history first, then live points as they come.
        res.write(`retry: 2000\n\n${sse('hello', {
          startedAt,
          status: feed.status,
          series: feed.series(),
          ...figures(feed),
          ...(feed.ended !== undefined ? endMessage() : {}),
        })}`);
        streams.add(res);
        res.on('close', () => streams.delete(res));
        res.on('error', () => streams.delete(res));
        return;
      }
      default:
        return text(res, 404, 'not found');
    }
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) text(res, 500, `internal error: ${(err as Error).message}`);
      else res.destroy();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;

  let closing: Promise<void> | undefined;
  return {
    url,
    setReport(r) {
      report = r;
      reportHtml = undefined;
    },
    closeRequested,
    get stoppedFromPage() {
      return stopped;
    },
    close() {
      closing ??= (async () => {
        unsubscribe();
        clearInterval(heartbeat);
        for (const res of streams) res.end();
        streams.clear();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
      })();
      return closing;
    },
  };
}
