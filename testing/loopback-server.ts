/**
 * An HTTP server on 127.0.0.1 for the stand-ins of services that have no emulator: the handler gets
 * each request with its whole body read.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Closes the server and every connection still open. */
  stop(): Promise<void>;
}

export type LoopbackHandler = (request: http.IncomingMessage, body: string, response: http.ServerResponse) => void;

export async function listenOnLoopback(
  handler: LoopbackHandler,
  options: {
    /**
     * How long an idle keep-alive connection stays open. The server announces it in `Keep-Alive:
     * timeout=<seconds>`; at 1 s, fetch (undici) clients do not reuse sockets at all.
     * @default Node's (5 s)
     */
    keepAliveTimeoutMs?: number;
  } = {},
): Promise<LoopbackServer> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => handler(request, Buffer.concat(chunks).toString("utf8"), response));
  });
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
