/**
 * A small protocol server for the worker tests, on 127.0.0.1 port 0: answers ping, agent_message and
 * disconnect like the reference server, and records where each connection came from.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { closeWsServer, listenLocal } from '../helpers/local-server.js';

export interface RecordingServer {
  url: string;
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  requests: number;
  /** Connections accepted when the first request arrived (-1 before it). */
  acceptedAtFirstRequest: number;
  /** Remote address of every connection accepted, in order. */
  remoteAddresses: string[];
  open(): number;
  close(): Promise<void>;
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const state: RecordingServer = {
    url: '',
    port: 0,
    accepted: 0,
    requests: 0,
    acceptedAtFirstRequest: -1,
    remoteAddresses: [],
    open: () => wss.clients.size,
    close: () => closeWsServer(wss, http),
  };
  wss.on('connection', (ws, req) => {
    state.accepted++;
    state.remoteAddresses.push(req.socket.remoteAddress ?? '');
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      let msg: { type?: unknown; id?: unknown; from?: unknown; to?: unknown };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'disconnect') {
        ws.send(JSON.stringify({ type: 'disconnect_ack', id: msg.id }));
        ws.close(1000);
        return;
      }
      if (state.requests++ === 0) state.acceptedAtFirstRequest = state.accepted;
      if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong', id: msg.id }));
      else if (msg.type === 'agent_message') ws.send(JSON.stringify({ type: 'agent_response', id: msg.id, from: msg.to, to: msg.from }));
      else ws.send(JSON.stringify({ type: 'echoed', id: msg.id }));
    });
  });
  state.port = await listenLocal(http);
  state.url = `ws://127.0.0.1:${state.port}/ws`;
  return state;
}

/** Client sockets of this process towards `port` (the coordinator must have none). */
export function clientSocketsTo(port: number): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => (h as { remotePort?: unknown }).remotePort === port).length;
}
