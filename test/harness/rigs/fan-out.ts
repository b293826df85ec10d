/**
 * The local stand-ins FanOutIngest's tests, scenario and benchmark share:
 * - a paginated id API on loopback (the external source);
 * - Event Grid: BlobCreated events in the Event Grid schema, filtered like the subscription and
 *   written into the events queue as plain JSON text or as base64 of it: which of the two Event
 *   Grid's Storage Queue destination writes is disputed (see `eventOfQueueMessage`), so tests play both;
 * - the Functions queue trigger: receive, invoke, delete on success, `<queue>-poison` after 5 attempts.
 */
import * as http from "node:http";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { type QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { type Artifact, buildArtifact, zipBytes } from "../../../components/core/artifact";
import { DATA_CONNECTION, type FanOutIngestArgs, fanOutFunctions } from "../../../components/fan-out-ingest";
import { functionAppArtifactSpec } from "../../../components/azure/function-app";
import type { MessageEncoding } from "../../../runtime/fan-out-ingest/contract";
import { decodeMessage } from "../../../runtime/fan-out-ingest/ingestion";
import { ArtifactProcess, type Invocation } from "../artifact-runner";
import { AZURITE_ACCOUNT, type Azurite, azuriteConnectionString } from "../emulators";
import { listenOnLoopback } from "../loopback-server";

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

// ---- Event Grid ---------------------------------------------------------------------------------

export interface SubscriptionFilter {
  includedEventTypes: string[];
  subjectBeginsWith: string;
  subjectEndsWith: string;
}

/**
 * A Microsoft.Storage.BlobCreated event in the Event Grid schema, field for field as the Azure
 * documentation shows it (storage-blob-event-overview / event-schema-blob-storage).
 */
export function blobCreatedEvent(
  container: string,
  blobName: string,
  blob: { etag: string; contentLength: number; requestId: string } = {
    etag: '"0x8D4BCC2E4835CD0"',
    contentLength: 524288,
    requestId: "831e1650-001e-001b-66ab-eeb76e069631",
  },
) {
  return {
    topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${AZURITE_ACCOUNT}`,
    subject: `/blobServices/default/containers/${container}/blobs/${blobName}`,
    eventType: "Microsoft.Storage.BlobCreated",
    id: blob.requestId,
    data: {
      api: "PutBlob",
      clientRequestId: blob.requestId,
      requestId: blob.requestId,
      eTag: blob.etag,
      contentType: "application/json",
      contentLength: blob.contentLength,
      blobType: "BlockBlob",
      url: `https://${AZURITE_ACCOUNT}.blob.core.windows.net/${container}/${blobName}`,
      sequencer: "00000000000000000000000000005d2f0000000000000b0c",
      storageDiagnostics: { batchId: "b4229b3a-4d50-4ff4-a9f2-039ccf26efe9" },
    },
    dataVersion: "",
    metadataVersion: "1",
    eventTime: new Date().toISOString(),
  };
}

/** Whether the subscription's filter lets an event through, as Event Grid evaluates it. */
export function passesFilter(filter: SubscriptionFilter, event: { eventType: string; subject: string }): boolean {
  return (
    filter.includedEventTypes.includes(event.eventType) &&
    event.subject.startsWith(filter.subjectBeginsWith) &&
    event.subject.endsWith(filter.subjectEndsWith)
  );
}

/** The two forms an Event Grid event may take in a Storage Queue: its JSON text, or base64 of that text. */
export type EventGridQueueEncoding = "json-text" | "base64";

/** The queue message Event Grid's Storage Queue destination would write for an event, in either form. */
export function eventGridQueueMessage(event: unknown, encoding: EventGridQueueEncoding): string {
  const text = JSON.stringify(event);
  return encoding === "base64" ? Buffer.from(text, "utf8").toString("base64") : text;
}

/**
 * Plays Event Grid for the blobs created under `prefix`: one BlobCreated event per blob, filtered,
 * written into the events queue in `encoding` (default JSON text). Returns what was delivered and
 * what the filter dropped.
 */
export async function publishBlobCreatedEvents(options: {
  container: ContainerClient;
  prefix: string;
  filter: SubscriptionFilter;
  eventsQueue: QueueClient;
  encoding?: EventGridQueueEncoding;
}): Promise<{ delivered: string[]; filteredOut: string[] }> {
  const delivered: string[] = [];
  const filteredOut: string[] = [];
  let sequence = 0;
  for await (const blob of options.container.listBlobsFlat({ prefix: options.prefix })) {
    sequence++;
    const event = blobCreatedEvent(options.container.containerName, blob.name, {
      etag: blob.properties.etag ?? "",
      contentLength: blob.properties.contentLength ?? 0,
      requestId: `00000000-0000-0000-0000-${String(sequence).padStart(12, "0")}`,
    });
    if (!passesFilter(options.filter, event)) {
      filteredOut.push(blob.name);
      continue;
    }
    await options.eventsQueue.sendMessage(eventGridQueueMessage(event, options.encoding ?? "json-text"));
    delivered.push(blob.name);
  }
  return { delivered, filteredOut };
}

// ---- the Functions queue trigger ----------------------------------------------------------------

export interface TriggerResult {
  succeeded: number;
  /** Failed attempts (the message was retried or poisoned). */
  failedAttempts: number;
  /** Messages moved to the poison queue after `maxDequeueCount` attempts. */
  poisoned: number;
  /** Why each failed attempt failed. */
  errors: string[];
}

/**
 * Plays the Functions host's queue trigger with `messageEncoding: none` until the queue is empty:
 * `parallel` messages at a time, each handed to `invoke` parsed as JSON when it is JSON (what the
 * Node.js worker does), deleted on success, released for a retry on failure, and moved to
 * `<queue>-poison` on its `maxDequeueCount`th failure.
 */
export async function runQueueTrigger(options: {
  queue: QueueClient;
  poisonQueue: QueueClient;
  invoke: (message: unknown) => Promise<Invocation>;
  parallel?: number;
  maxDequeueCount?: number;
}): Promise<TriggerResult> {
  const result: TriggerResult = { succeeded: 0, failedAttempts: 0, poisoned: 0, errors: [] };
  const maxDequeueCount = options.maxDequeueCount ?? 5;
  for (;;) {
    const { receivedMessageItems: messages } = await options.queue.receiveMessages({
      numberOfMessages: options.parallel ?? 2,
      visibilityTimeout: 600,
    });
    if (messages.length === 0) return result;
    await Promise.all(
      messages.map(async (message) => {
        const invocation = await options.invoke(parseIfJson(message.messageText));
        if (!invocation.error) {
          result.succeeded++;
          await options.queue.deleteMessage(message.messageId, message.popReceipt);
          return;
        }
        result.failedAttempts++;
        result.errors.push(invocation.error.message);
        if (message.dequeueCount >= maxDequeueCount) {
          result.poisoned++;
          await options.poisonQueue.sendMessage(message.messageText);
          await options.queue.deleteMessage(message.messageId, message.popReceipt);
        } else {
          await options.queue.updateMessage(message.messageId, message.popReceipt, undefined, 0);
        }
      }),
    );
  }
}

function parseIfJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
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

/** Every message in a small queue, decoded, without deleting any (each receive hides what it got for an hour). */
export async function receiveAll(queue: QueueClient, encoding: MessageEncoding): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 3600 });
    if (receivedMessageItems.length === 0) return texts;
    for (const message of receivedMessageItems) texts.push(decodeMessage(message.messageText, encoding));
  }
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

/** A FanOutIngest Function App artifact running against Azurite, with clients for its storage. */
export interface LocalFanOut {
  runner: ArtifactProcess;
  chunks: ContainerClient;
  eventsQueue: QueueClient;
  eventsPoisonQueue: QueueClient;
  targetQueues: QueueClient[];
  poisonQueues: QueueClient[];
  stop(): Promise<void>;
}

/**
 * Starts `artifact` (built for `args`) against Azurite and creates the container and queues the
 * component declares (names from `args`, so pipelines with different names can share one Azurite;
 * the events queues have fixed names). `queueEndpoint` reroutes the function's queue traffic, e.g.
 * through a `QueueRecorder`.
 */
export async function startLocalFanOut<TItem>(
  azurite: Azurite,
  artifact: Artifact,
  args: FanOutIngestArgs<TItem>,
  settings: { queueEndpoint?: string; env?: Record<string, string> } = {},
): Promise<LocalFanOut> {
  const { options } = fanOutFunctions(args).entry;
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
  const chunks = blobs.getContainerClient(options.chunkContainer);
  await chunks.createIfNotExists();
  const queue = async (queueName: string) => {
    const client = queues.getQueueClient(queueName);
    await client.createIfNotExists();
    return client;
  };
  const eventsQueue = await queue(options.eventsQueue);
  const eventsPoisonQueue = await queue(options.eventsPoisonQueue);
  const targetQueues = await Promise.all(options.targetQueues.map(queue));
  const poisonQueues = await Promise.all(options.poisonQueues.map(queue));
  const connection = azuriteConnectionString(azurite.blobEndpoint, settings.queueEndpoint ?? azurite.queueEndpoint);
  const runner = await ArtifactProcess.start(zipBytes(artifact), "azure-functions", {
    [DATA_CONNECTION]: connection,
    ...settings.env,
  });
  return { runner, chunks, eventsQueue, eventsPoisonQueue, targetQueues, poisonQueues, stop: () => runner.stop() };
}

/** Starts a run through the chunking function's HTTP trigger (`POST /api/runs?runId=`). */
export async function startRun(runner: ArtifactProcess, runId: string): Promise<{ items: number; chunks: number }> {
  const invocation = await runner.invokeFunction("chunk", {
    method: "POST",
    url: `http://localhost:7071/api/runs?runId=${runId}`,
    headers: {},
  });
  if (invocation.error) throw new Error(`chunk failed: ${invocation.error.message}`);
  const response = invocation.result as { status: number; jsonBody: { manifest: { items: number; chunks: number } } };
  if (response.status !== 200)
    throw new Error(`chunk answered ${response.status}: ${JSON.stringify(response.jsonBody)}`);
  return response.jsonBody.manifest;
}
