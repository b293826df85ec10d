/**
 * The FanOutIngest pieces its tests, scenario and benchmark share beside the local run of
 * queue-patterns/testing (testing/fan-out-ingest.ts, re-exported here): a paginated id API on
 * loopback (the external source), a recording proxy in front of Azurite's Queue service, the
 * completeness check, and the artifact built from args without a Pulumi engine.
 */
import * as http from "node:http";
import type { QueueClient } from "@azure/storage-queue";
import { type Artifact, buildArtifact } from "../../../components/core/artifact";
import { type FanOutIngestArgs, fanOutFunctions } from "../../../components/fan-out-ingest";
import { functionAppArtifactSpec } from "../../../components/azure/function-app";
import type { Azurite } from "../../../testing/emulators";
import { type LocalFanOut, startLocalFanOut as startLocal } from "../../../testing/fan-out-ingest";
import { listenOnLoopback } from "../../../testing/loopback-server";
import { nodeBuild } from "../node-builds";

export {
  blobCreatedEvent,
  eventGridQueueMessage,
  type EventGridQueueEncoding,
  type LocalFanOut,
  passesFilter,
  publishBlobCreatedEvents,
  receiveAll,
  runQueueTrigger,
  startRun,
  type SubscriptionFilter,
  type TriggerResult,
} from "../../../testing/fan-out-ingest";

// ---- the external API ---------------------------------------------------------------------------

/** The id at a position of the API's list: `id-0000001`, ... */
export function idAt(position: number): string {
  return `id-${String(position).padStart(7, "0")}`;
}

export interface IdServer {
  /** `GET <url>/ids?cursor=0&limit=1000` -> `{ ids, next }`, `next` the URL of the next page or null. */
  url: string;
  pagesServed(): number;
  stop(): Promise<void>;
}

/** A paginated id API on 127.0.0.1 serving `total` ids, generated per page (never all in memory). */
export async function startIdServer(total: number): Promise<IdServer> {
  let pages = 0;
  const server = await listenOnLoopback((request, _body, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const cursor = Number(url.searchParams.get("cursor") ?? 0);
    const limit = Math.min(Number(url.searchParams.get("limit") ?? 1000), 1000);
    const end = Math.min(cursor + limit, total);
    const ids = Array.from({ length: end - cursor }, (_, i) => idAt(cursor + i + 1));
    const next = end < total ? `http://${request.headers.host}/ids?cursor=${end}&limit=${limit}` : null;
    pages++;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ ids, next }));
  });
  return { url: server.url, pagesServed: () => pages, stop: server.stop };
}

/** The `source` a user would write for that API: walk the pages, yield the ids. */
export function pagedIdSource(apiUrl: string) {
  return async function* () {
    let page: string | null = `${apiUrl}/ids?cursor=0&limit=1000`;
    while (page) {
      const response = await fetch(page);
      if (!response.ok) throw new Error(`GET ${page}: ${response.status}`);
      const body = (await response.json()) as { ids: string[]; next: string | null };
      yield* body.ids;
      page = body.next;
    }
  };
}

// ---- checks -------------------------------------------------------------------------------------

/**
 * A recording proxy in front of Azurite's Queue service: it forwards every request unchanged and
 * keeps the text of every message Azurite accepted (201 Created), per queue.
 *
 * Reading 100,000 messages back out of Azurite is not practical: every receive scans and sorts all
 * stored messages, so draining costs O(n^2). The accepted sends plus Azurite's message count prove
 * the same thing, "every id is in the queue exactly once", in O(n).
 */
export interface QueueRecorder {
  /** Use instead of Azurite's queue endpoint. */
  queueEndpoint: string;
  /** The stored text of every message the queue accepted, in arrival order. */
  accepted(queueName: string): string[];
  stop(): Promise<void>;
}

export async function startQueueRecorder(queueEndpoint: string): Promise<QueueRecorder> {
  const target = new URL(queueEndpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const accepted = new Map<string, string[]>();
  const enqueuePath = /^\/[^/]+\/([^/?]+)\/messages(\?|$)/;
  const server = await listenOnLoopback((request, body, response) => {
    const forward = () => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
          agent,
        },
        (answer) => {
          const queueName = request.method === "POST" ? request.url?.match(enqueuePath)?.[1] : undefined;
          if (queueName && answer.statusCode === 201) {
            const texts = accepted.get(queueName) ?? [];
            texts.push(unescapeXml(body.match(/<MessageText>([\s\S]*)<\/MessageText>/)?.[1] ?? ""));
            accepted.set(queueName, texts);
          }
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on("error", (error: NodeJS.ErrnoException) => {
        // A kept-alive socket that Azurite closed meanwhile: the request never reached it, so send it
        // again on a fresh socket (what Node's documentation advises for reused sockets).
        if (upstream.reusedSocket && error.code === "ECONNRESET") forward();
        // Otherwise fail the way the network would, so the SDK's own retry policy decides.
        else response.destroy(error);
      });
      upstream.end(body);
    };
    forward();
  });
  return {
    queueEndpoint: `${server.url}${target.pathname}`,
    accepted: (queueName) => accepted.get(queueName) ?? [],
    stop: async () => {
      await server.stop();
      agent.destroy();
    },
  };
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[entity] as string;
  });
}

/** Azurite's count of the messages stored in a queue. */
export async function storedMessageCount(queue: QueueClient): Promise<number> {
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

export interface Completeness {
  expected: number;
  distinct: number;
  missing: number;
  duplicates: number;
  unexpected: number;
}

/** Compares the messages found with ids 1..expected. */
export function completeness(messages: string[], expected: number): Completeness {
  const seen = new Map<string, number>();
  for (const message of messages) seen.set(message, (seen.get(message) ?? 0) + 1);
  let missing = 0;
  for (let position = 1; position <= expected; position++) if (!seen.has(idAt(position))) missing++;
  const unexpected = [...seen.keys()].filter((id) => !/^id-\d{7}$/.test(id) || Number(id.slice(3)) > expected).length;
  return { expected, distinct: seen.size, missing, duplicates: messages.length - seen.size, unexpected };
}

// ---- the whole pipeline -------------------------------------------------------------------------

/** The artifact the component deploys for `args`, built without a Pulumi engine. */
export function buildFanOutArtifact<TItem>(name: string, args: FanOutIngestArgs<TItem>): Promise<Artifact> {
  return buildArtifact(
    functionAppArtifactSpec({
      owner: `FanOutIngest "${name}"`,
      appName: `${name}-functions`,
      ...fanOutFunctions(args),
      nodeVersion: args.function?.nodeVersion,
    }),
  );
}

/**
 * The local Function App of `args` (testing's startLocalFanOut with the names the component derives
 * from `args`) on the official Node.js build of the artifact's major.
 */
export function startLocalFanOut<TItem>(
  azurite: Azurite,
  artifact: Artifact,
  args: FanOutIngestArgs<TItem>,
  settings: { queueEndpoint?: string; env?: Record<string, string> } = {},
): Promise<LocalFanOut> {
  return startLocal(azurite, artifact, fanOutFunctions(args).entry.options, { ...settings, node: nodeBuild });
}
