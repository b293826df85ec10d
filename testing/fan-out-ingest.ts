/**
 * FanOutIngest, run locally on Azurite: its Function App artifact in a fresh process (the Functions
 * worker played by artifact-host.ts), and stand-ins for what Azure does between its functions:
 * - Event Grid: BlobCreated events in the Event Grid schema, filtered like the subscription and
 *   written into the events queue as plain JSON text or as base64 of it: which of the two Event
 *   Grid's Storage Queue destination writes is disputed (see `eventOfQueueMessage`), so tests play both;
 * - the Functions queue trigger: receive, invoke, delete on success, `<queue>-poison` after 5 attempts.
 * A run is started through the chunking function's HTTP trigger, as `runUrl` starts one.
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { type QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { type Artifact, zipBytes } from "../components/core/artifact";
import { DATA_CONNECTION, EVENTS_QUEUE, type FanOutIngest } from "../components/fan-out-ingest";
import type { MessageEncoding } from "../runtime/fan-out-ingest/contract";
import { decodeMessage } from "../runtime/fan-out-ingest/ingestion";
import { ArtifactProcess, type Invocation, type NodeSelector } from "./artifact-runner";
import { AZURITE_ACCOUNT, type Azurite, azuriteConnectionString } from "./emulators";
import {
  artifactOf,
  type ExerciseOptions,
  type InvocationRecord,
  invocationRecord,
  nameOf,
  type NodeUsed,
  nodeSelector,
  valueOf,
  withEmulators,
} from "./exercise";

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

// ---- reading queues ------------------------------------------------------------------------------

/** Every message in a small queue, decoded, without deleting any (each receive hides what it got for an hour). */
export async function receiveAll(queue: QueueClient, encoding: MessageEncoding): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 3600 });
    if (receivedMessageItems.length === 0) return texts;
    for (const message of receivedMessageItems) texts.push(decodeMessage(message.messageText, encoding));
  }
}

// ---- the Function App ----------------------------------------------------------------------------

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

/** The container and queues a FanOutIngest reads and writes, by name. */
export interface FanOutLayout {
  chunkContainer: string;
  eventsQueue: string;
  eventsPoisonQueue: string;
  targetQueues: string[];
  poisonQueues: string[];
}

/**
 * Starts `artifact` against Azurite and creates the container and queues of `layout` (names from
 * the component, so pipelines with different names can share one Azurite; the events queues have
 * fixed names). `queueEndpoint` reroutes the function's queue traffic, e.g. through a recording proxy.
 */
export async function startLocalFanOut(
  azurite: Azurite,
  artifact: Artifact,
  layout: FanOutLayout,
  settings: { queueEndpoint?: string; env?: Record<string, string>; node?: NodeSelector } = {},
): Promise<LocalFanOut> {
  const options = layout;
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
  const runner = await ArtifactProcess.start(
    zipBytes(artifact),
    "azure-functions",
    { ...settings.env, [DATA_CONNECTION]: connection },
    settings.node,
  );
  return { runner, chunks, eventsQueue, eventsPoisonQueue, targetQueues, poisonQueues, stop: () => runner.stop() };
}

/** The HTTP request that starts (or resumes) run `runId` through the chunking function's trigger. */
export function runRequest(runId: string) {
  return { method: "POST", url: `http://localhost:7071/api/runs?runId=${encodeURIComponent(runId)}`, headers: {} };
}

/** Starts a run through the chunking function's HTTP trigger (`POST /api/runs?runId=`). */
export async function startRun(runner: ArtifactProcess, runId: string): Promise<{ items: number; chunks: number }> {
  const invocation = await runner.invokeFunction("chunk", runRequest(runId));
  if (invocation.error) throw new Error(`chunk failed: ${invocation.error.message}`);
  const response = invocation.result as { status: number; jsonBody: { manifest: { items: number; chunks: number } } };
  if (response.status !== 200)
    throw new Error(`chunk answered ${response.status}: ${JSON.stringify(response.jsonBody)}`);
  return response.jsonBody.manifest;
}

// ---- exercising a component -----------------------------------------------------------------------

/** What `exerciseFanOutIngest` runs. */
export interface FanOutInput {
  /** @default `local-<time>` */
  runId?: string;
  /**
   * How the component writes messages to its target queues, to decode them here: its
   * `messageEncoding` argument.
   * @default "base64" (the component's default)
   */
  messageEncoding?: MessageEncoding;
}

export interface FanOutIngestRun {
  component: "FanOutIngest";
  name: string;
  node: NodeUsed;
  /** The chunking function's invocation (the HTTP trigger of `runUrl`) and the manifest it answered. */
  chunk: InvocationRecord;
  /** Chunk blobs whose BlobCreated event passed the subscription's filter, and those it dropped. */
  events: { delivered: string[]; filteredOut: string[] };
  /** Every ingestion invocation: the BlobCreated event it was given and how it ended. */
  ingestInvocations: InvocationRecord[];
  /** The messages your `toMessage` produced, per target queue, decoded. */
  messages: Record<string, string[]>;
  /** Items `toMessage` rejected (`RejectMessage`) or that failed, per poison queue. */
  poisoned: Record<string, string[]>;
  /** Events that failed 5 times and went to the events poison queue. */
  poisonedEvents: string[];
  elapsedMs: number;
}

/** The container and queue names of a FanOutIngest. */
function layoutOf(ingest: FanOutIngest<any>): FanOutLayout {
  return {
    chunkContainer: ingest.chunkContainerName,
    eventsQueue: EVENTS_QUEUE,
    eventsPoisonQueue: `${EVENTS_QUEUE}-poison`,
    targetQueues: ingest.queueNames,
    poisonQueues: ingest.poisonQueueNames,
  };
}

/**
 * Runs one run of the ingestion's built artifact with your `source` and `toMessage`: the chunking
 * function through its HTTP trigger, the BlobCreated events Event Grid would queue for the chunks,
 * and the ingestion function on each through the queue trigger. Returns the messages in each target
 * and poison queue.
 */
export async function exerciseFanOutIngest<TItem>(
  ingest: FanOutIngest<TItem>,
  input: FanOutInput = {},
  options: ExerciseOptions = {},
): Promise<FanOutIngestRun> {
  const started = Date.now();
  const name = await nameOf(ingest);
  const progress = (line: string) => options.onProgress?.(`FanOutIngest "${name}": ${line}`);
  return withEmulators({ ...options, onProgress: progress }, async (emulators) => {
    progress("building the Function App artifact");
    const layout = layoutOf(ingest);
    const [artifact, filter, azurite] = await Promise.all([
      artifactOf(`FanOutIngest "${name}"`, ingest.functionApp.artifact),
      valueOf(ingest.eventSubscription.filter),
      emulators.useAzurite(),
    ]);
    progress("starting the Function App");
    const local = await startLocalFanOut(azurite, artifact, layout, {
      env: options.environment,
      node: nodeSelector(options),
    });
    try {
      const runId = input.runId ?? `local-${Date.now()}`;
      progress(`starting run ${runId} (chunking your source)`);
      const request = runRequest(runId);
      const chunked = await local.runner.invokeFunction("chunk", request);
      const chunk = invocationRecord("chunk", request, chunked);
      const events = chunked.error
        ? { delivered: [], filteredOut: [] }
        : await publishBlobCreatedEvents({
            container: local.chunks,
            prefix: `${runId}/`,
            filter: {
              includedEventTypes: filter?.includedEventTypes ?? [],
              subjectBeginsWith: filter?.subjectBeginsWith ?? "",
              subjectEndsWith: filter?.subjectEndsWith ?? "",
            },
            eventsQueue: local.eventsQueue,
          });
      progress(`ingesting ${events.delivered.length} chunks`);
      const ingestInvocations: InvocationRecord[] = [];
      await runQueueTrigger({
        queue: local.eventsQueue,
        poisonQueue: local.eventsPoisonQueue,
        invoke: async (event) => {
          const invocation = await local.runner.invokeFunction("ingest", event);
          ingestInvocations.push(invocationRecord("ingest", event, invocation));
          return invocation;
        },
      });
      const encoding = input.messageEncoding ?? "base64";
      const contents = async (queues: QueueClient[]) =>
        Object.fromEntries(
          await Promise.all(queues.map(async (queue) => [queue.name, await receiveAll(queue, encoding)] as const)),
        );
      return {
        component: "FanOutIngest" as const,
        name,
        node: { version: local.runner.node.version, declaredMajor: local.runner.declaredMajor },
        chunk,
        events,
        ingestInvocations,
        messages: await contents(local.targetQueues),
        poisoned: await contents(local.poisonQueues),
        poisonedEvents: await receiveAll(local.eventsPoisonQueue, "none"),
        elapsedMs: Date.now() - started,
      };
    } finally {
      await local.stop();
    }
  });
}
