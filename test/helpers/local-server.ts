/** Listening and closing for the tests' own servers (test-servers.ts, fault-servers.ts, test/workers/helpers.ts). */
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { WebSocketServer } from 'ws';

/** Listen on 127.0.0.1, port 0; resolves with the port. */
export function listenLocal(server: Server | NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Close at once: terminate every WebSocket, stop `wss`, and close `http` with its remaining connections. */
export function closeWsServer(wss: WebSocketServer, http: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    http.close(() => resolve());
    http.closeAllConnections();
  });
}
