/**
 * The ingestion function's work: one BlobCreated event names one chunk; its items become queue
 * messages, sent with bounded parallelism and checkpointed in the chunk blob's metadata so a retried
 * invocation resumes where the last one stopped.
 *
 * Delivery is at least once. A retry re-sends at most the messages after the last checkpoint, so a
 * crash duplicates at most `checkpointEvery` messages. The checkpoint is written with the blob's ETag
 * as a condition and names the invocation that wrote it. A 412 on that write is either the SDK
 * retrying our own write whose response was lost (the checkpoint names us: carry on) or another
 * invocation working on the same chunk (Event Grid may deliver an event twice): then this invocation
 * fails, and its event is retried from the latest checkpoint, so a collision also duplicates at most
 * one interval.
 */
import { randomUUID } from "node:crypto";
import { type BlobDownloadResponseParsed, type ContainerClient, RestError } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import type { MessageEncoding } from "./contract";
import { blobSubjectPrefix, CHUNK_METADATA, CHUNK_SUFFIX } from "./layout";
import { rejectionReason } from "../shared/reject-message";

/** Storage Queue's limit on one message as stored, i.e. after encoding. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Characters of a rejected message or event kept in its poison record, so the record stays small. */
const PREVIEW_CHARS = 1024;
/**
 * Messages and poison records never expire (Storage Queue's default is 7 days), so nothing is
 * dropped while their consumers are down.
 */
const NEVER_EXPIRE = { messageTimeToLive: -1 } as const;

/** Item -> message text; an object is sent as its JSON. */
export type ToMessageCallback = (item: unknown) => unknown;

export interface IngestionOptions {
  chunkContainer: string;
  /** Target queues; a message goes to `queues[stableHash(text) % queues.length]`. */
  targetQueues: QueueClient[];
  /** The poison queue of each target queue, same order. */
  poisonQueues: QueueClient[];
  /** Where events that name no usable chunk go, with the reason. */
  eventsPoisonQueue: QueueClient;
  concurrency: number;
  checkpointEvery: number;
  messageEncoding: MessageEncoding;
}

export interface ChunkReport {
  chunk: string;
  items: number;
  /** The resume point read from the blob's checkpoint. */
  resumedFrom: number;
  sent: number;
  poisoned: number;
  /**
   * - `completed`: every message of the chunk is enqueued or poisoned;
   * - `already-complete`: an earlier invocation finished it;
   * - `yielded`: another invocation completed the chunk meanwhile;
   * - `rejected`: the event named no usable chunk and went to the events poison queue.
   */
  outcome: "completed" | "already-complete" | "yielded" | "rejected";
  /** Why the chunk was rejected. */
  problem?: string;
}

/** Queue message text in the chosen encoding. */
export function encodeMessage(text: string, encoding: MessageEncoding): string {
  return encoding === "base64" ? Buffer.from(text, "utf8").toString("base64") : text;
}

/** Message text back from its stored form. */
export function decodeMessage(stored: string, encoding: MessageEncoding): string {
  return encoding === "base64" ? Buffer.from(stored, "base64").toString("utf8") : stored;
}

/** FNV-1a over the text's UTF-8 bytes: the same message always lands in the same queue. */
export function queueIndexFor(text: string, queueCount: number): number {
  if (queueCount === 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash % queueCount;
}

/** The default `toMessage`: strings as they are, anything else as JSON. */
export function defaultMessageText(item: unknown): string {
  return typeof item === "string" ? item : JSON.stringify(item);
}

/**
 * The event a queue message carries. How Event Grid's Storage Queue destination stores an event is
 * disputed: the quickstart says plain text
 * (https://learn.microsoft.com/azure/event-grid/custom-event-to-queue-storage), while users
 * (MicrosoftDocs/azure-docs #102923, dapr/components-contrib #232) and Microsoft's own SDK samples
 * (azure-sdk-for-python eventgrid samples, azure-sdk-for-java `ReceiveEventsFromEventHandler`)
 * base64-decode it. The app reads the queue with `messageEncoding: none`, so the stored text arrives
 * as is (parsed by the worker when it is JSON): both forms are accepted.
 */
export function eventOfQueueMessage(message: unknown): { event: unknown } | { problem: string } {
  const text = Buffer.isBuffer(message) ? message.toString("utf8") : message;
  if (typeof text !== "string") return { event: text };
  const json =
    parseJsonObject(text) ??
    (BASE64.test(text.trim()) ? parseJsonObject(Buffer.from(text, "base64").toString("utf8")) : undefined);
  if (json === undefined) {
    return { problem: "the queue message is neither JSON nor base64-encoded JSON; expected an Event Grid event" };
  }
  return { event: json };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parseJsonObject(text: string): unknown {
  if (!/^\s*[[{]/.test(text)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The chunk blob an Event Grid event (Event Grid schema, as a queue message) names, or why it names none. */
export function chunkOfEvent(message: unknown, chunkContainer: string): { blobName: string } | { problem: string } {
  const received = eventOfQueueMessage(message);
  if ("problem" in received) return received;
  const { eventType, subject } = (received.event ?? {}) as { eventType?: unknown; subject?: unknown };
  if (eventType !== "Microsoft.Storage.BlobCreated") {
    return { problem: `event type ${JSON.stringify(eventType)} is not Microsoft.Storage.BlobCreated` };
  }
  const prefix = blobSubjectPrefix(chunkContainer);
  if (typeof subject !== "string" || !subject.startsWith(prefix)) {
    return { problem: `subject ${JSON.stringify(subject)} is not a blob in container ${chunkContainer}` };
  }
  const blobName = subject.slice(prefix.length);
  if (!blobName.endsWith(CHUNK_SUFFIX)) return { problem: `blob ${blobName} is not a chunk (*${CHUNK_SUFFIX})` };
  return { blobName };
}

/** Handles one queued event end to end; a usable chunk is ingested, anything else is poisoned with the reason. */
export async function ingestEvent(
  container: ContainerClient,
  message: unknown,
  toMessage: ToMessageCallback,
  options: IngestionOptions,
): Promise<ChunkReport> {
  const target = chunkOfEvent(message, options.chunkContainer);
  const report =
    "problem" in target
      ? rejected("", target.problem)
      : await ingestChunk(container, target.blobName, toMessage, options);
  if (report.problem) await rejectEvent(options.eventsPoisonQueue, report.problem, message);
  return report;
}

/** Enqueues the messages of one chunk blob, resuming from its checkpoint. */
export async function ingestChunk(
  container: ContainerClient,
  blobName: string,
  toMessage: ToMessageCallback,
  options: IngestionOptions,
): Promise<ChunkReport> {
  const blob = container.getBlockBlobClient(blobName);
  let download: BlobDownloadResponseParsed;
  try {
    download = await blob.download();
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) {
      return rejected(blobName, `chunk ${blobName} does not exist (deleted before it was ingested?)`);
    }
    throw error;
  }
  const items = parseChunk(await streamText(download.readableStreamBody));
  if (!items) return rejected(blobName, `chunk ${blobName} is not a JSON array`);

  const metadata = download.metadata ?? {};
  const resumedFrom = Math.min(Number(metadata[CHUNK_METADATA.ingested] ?? 0) || 0, items.length);
  const poisonedBefore = Number(metadata[CHUNK_METADATA.poisoned] ?? 0) || 0;
  const report: ChunkReport = {
    chunk: blobName,
    items: items.length,
    resumedFrom,
    sent: 0,
    poisoned: 0,
    outcome: "completed",
  };
  if (resumedFrom === items.length) return { ...report, outcome: "already-complete" };

  const writer = randomUUID();
  let etag = download.etag;
  for (let start = resumedFrom; start < items.length; start += options.checkpointEvery) {
    const end = Math.min(start + options.checkpointEvery, items.length);
    await forEachBounded(start, end, options.concurrency, async (index) => {
      const outcome = await enqueueItem(items[index], index, blobName, toMessage, options);
      report[outcome]++;
    });
    const checkpoint = {
      ...metadata,
      [CHUNK_METADATA.ingested]: String(end),
      [CHUNK_METADATA.poisoned]: String(poisonedBefore + report.poisoned),
      [CHUNK_METADATA.writer]: writer,
    };
    try {
      etag = (await blob.setMetadata(checkpoint, { conditions: { ifMatch: etag } })).etag;
    } catch (error) {
      if (!(error instanceof RestError && error.statusCode === 412)) throw error;
      const current = await blob.getProperties();
      const written = current.metadata ?? {};
      if (written[CHUNK_METADATA.writer] === writer && written[CHUNK_METADATA.ingested] === String(end)) {
        etag = current.etag;
        continue;
      }
      if (Number(written[CHUNK_METADATA.ingested] ?? 0) >= items.length) return { ...report, outcome: "yielded" };
      // Failing (not returning) gets the event redelivered: if the other invocation dies, nobody else finishes the chunk.
      throw new Error(
        `chunk ${blobName}: another invocation checkpointed it at ${written[CHUNK_METADATA.ingested] ?? 0}/${items.length} ` +
          `while this one sent ${start}..${end}; failing so the event is retried from the checkpoint`,
      );
    }
  }
  return report;
}

function rejected(chunk: string, problem: string): ChunkReport {
  return { chunk, items: 0, resumedFrom: 0, sent: 0, poisoned: 0, outcome: "rejected", problem };
}

/** Sends one item's message, or poisons it with the reason when it cannot be a queue message. */
async function enqueueItem(
  item: unknown,
  index: number,
  chunk: string,
  toMessage: ToMessageCallback,
  options: IngestionOptions,
): Promise<"sent" | "poisoned"> {
  let text: string;
  try {
    const message = await toMessage(item);
    if (message === undefined || message === null) throw new TypeError(`toMessage returned ${message}`);
    text = defaultMessageText(message);
  } catch (error) {
    const itemText = defaultMessageText(item);
    const queueIndex = queueIndexFor(itemText, options.targetQueues.length);
    // Any error from toMessage poisons the item at once: converting it again would fail again. A
    // RejectMessage carries the reason the callback gave.
    const rejection = rejectionReason(error);
    await poison(options, queueIndex, {
      reason:
        rejection === undefined ? `toMessage failed: ${errorText(error)}` : `toMessage rejected the item: ${rejection}`,
      chunk,
      index,
      item: preview(itemText),
    });
    return "poisoned";
  }
  const queueIndex = queueIndexFor(text, options.targetQueues.length);
  const encoded = encodeMessage(text, options.messageEncoding);
  const bytes = Buffer.byteLength(encoded, "utf8");
  if (bytes > MAX_MESSAGE_BYTES) {
    const reason = `message is ${bytes} bytes ${options.messageEncoding === "base64" ? "base64-encoded" : "as text"}; Storage Queue allows ${MAX_MESSAGE_BYTES}`;
    await poison(options, queueIndex, { reason, chunk, index, messageBytes: bytes, preview: preview(text) });
    return "poisoned";
  }
  try {
    await options.targetQueues[queueIndex].sendMessage(encoded, NEVER_EXPIRE);
    return "sent";
  } catch (error) {
    // A 4xx other than throttling is about this message (e.g. characters XML cannot carry), not the service.
    if (
      error instanceof RestError &&
      error.statusCode !== undefined &&
      error.statusCode >= 400 &&
      error.statusCode < 500 &&
      error.statusCode !== 429
    ) {
      await poison(options, queueIndex, {
        reason: `Storage Queue rejected the message: ${error.statusCode} ${error.code ?? error.message}`,
        chunk,
        index,
        preview: preview(text),
      });
      return "poisoned";
    }
    throw error;
  }
}

async function poison(options: IngestionOptions, queueIndex: number, record: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify({ ...record, queue: options.targetQueues[queueIndex].name });
  await options.poisonQueues[queueIndex].sendMessage(encodeMessage(text, options.messageEncoding), NEVER_EXPIRE);
}

/** Events are read with `messageEncoding: none`, so their poison records are plain JSON, the original event inside as received. */
async function rejectEvent(eventsPoisonQueue: QueueClient, reason: string, message: unknown): Promise<void> {
  const event = Buffer.isBuffer(message)
    ? message.toString("utf8")
    : typeof message === "string"
      ? message
      : JSON.stringify(message);
  await eventsPoisonQueue.sendMessage(
    JSON.stringify({ reason, event: preview(event ?? String(message)) }),
    NEVER_EXPIRE,
  );
}

function parseChunk(text: string): unknown[] | undefined {
  try {
    const parsed = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function preview(text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}… (${text.length} characters)` : text;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function streamText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return "";
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(typeof part === "string" ? Buffer.from(part) : part);
  return Buffer.concat(parts).toString("utf8");
}

/**
 * Runs `work(i)` for every i in [start, end) with at most `concurrency` in flight. After a failure no
 * new work starts; the first error is thrown once the running work has settled.
 */
async function forEachBounded(
  start: number,
  end: number,
  concurrency: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = start;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < end) {
      const index = next++;
      try {
        await work(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, end - start) }, worker));
  if (failure) throw failure.error;
}
