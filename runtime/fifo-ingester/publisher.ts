/**
 * The producer side of FifoIngester: publishes records to the SNS FIFO topic with the group id
 * taken from each record, in PublishBatch calls of up to 10 entries, keeping each group's order.
 *
 * Usable from another Lambda or a script:
 *   const publish = createPublisher({ topicArn, groupId: (listing) => listing.id });
 *   await publish(listings);
 *
 * - Every record is checked before anything is sent: a group id of 1..128 printable ASCII
 *   characters, a body of at most 256 KB (SNS's limit), a dedup id of 1..128 characters.
 * - Calls run concurrently, but a record is only sent once every earlier record of its group has
 *   been accepted, and (with the default `strictOrder`) a call carries at most one record per group,
 *   so a group's records reach the topic in the order given, resends included.
 * - Entries SNS rejects with a server fault, or leaves out of its answer, are resent (only those,
 *   after a jittered backoff, up to `maxAttempts`); entries rejected as the sender's fault are not. Whole-call failures are retried by the SDK's own
 *   retry strategy; when it gives up, publishing stops.
 * - Once a record fails for good, the later records of its group are not sent (they fail with
 *   `EarlierRecordFailed`): publishing them would leave a gap in the group's order that the
 *   consumer could not see. Other groups go on.
 * - Anything not published ends in a `PublishError` listing each record and the reason: nothing is
 *   dropped silently.
 */
import { createHash } from "node:crypto";
import {
  type BatchResultErrorEntry,
  PublishBatchCommand,
  type PublishBatchResultEntry,
  SNSClient,
} from "@aws-sdk/client-sns";

export const MAX_GROUP_ID_LENGTH = 128;
export const MAX_DEDUPLICATION_ID_LENGTH = 128;
/** SNS's cap on one message and on the sum of the messages of one PublishBatch call. */
export const MAX_MESSAGE_BYTES = 262_144;
export const MAX_BATCH_ENTRIES = 10;
/**
 * How far past the oldest unpublished record a call may reach for records of other groups; it bounds
 * the work per call when a few busy groups block the records ahead.
 */
const LOOKAHEAD = 1_000;
/** SNS allows alphanumeric characters and punctuation (printable ASCII without space) in both ids. */
const ID_CHARACTERS = /^[\x21-\x7e]+$/;

export interface PublisherOptions<T> {
  /** The SNS FIFO topic (`...fifo`). */
  topicArn: string;
  /** The message group of a record: the entity id, e.g. `(listing) => listing.id`. */
  groupId: (record: T) => string;
  /**
   * The deduplication id of a record.
   * @default content-based: the SHA-256 of the body, as SNS computes it for a topic with content-based deduplication
   */
  deduplicationId?: (record: T) => string;
  /** `json` sends `JSON.stringify(record)`; `raw` sends string records as they are. @default "json" */
  body?: "json" | "raw";
  /** @default a new SNSClient with the SDK's default configuration and retry strategy */
  client?: SNSClient;
  /** PublishBatch calls in flight at once. @default 4 */
  concurrency?: number;
  /** Attempts per entry that SNS rejects with a server fault or does not confirm. @default 5 */
  maxAttempts?: number;
  /**
   * `true`: at most one record per group per call, so a resend is never overtaken. `false`: several
   * records of one group may share a call, which needs fewer calls when few groups are active; but SNS
   * reports entries one by one, so if it fails one with a server fault and accepts a later record of
   * the same group in that call, the resend lands after it; and a later record sharing a call with
   * one that fails for good is published all the same.
   * @default true
   */
  strictOrder?: boolean;
  /** Upper bound of the first backoff before resending; it doubles per attempt (full jitter). @default 100 */
  retryBaseDelayMs?: number;
}

export interface PublishResult {
  /** Records published. */
  published: number;
  /** PublishBatch calls made. */
  calls: number;
  /** The SNS message id of each record, by position. */
  messageIds: string[];
}

export interface RecordProblem {
  /** Position of the record in the array given to `publish`. */
  index: number;
  reason: string;
}

/** Some records cannot be published as they are; nothing was sent. */
export class InvalidRecordsError extends Error {
  constructor(readonly problems: RecordProblem[]) {
    super(
      `${problems.length} record(s) cannot be published; nothing was sent:\n` +
        problems.map((p) => `  record ${p.index}: ${p.reason}`).join("\n"),
    );
    this.name = "InvalidRecordsError";
  }
}

export interface PublishFailure {
  index: number;
  /** SNS's error code, `NotConfirmed`, the SDK error's name, or `EarlierRecordFailed`. */
  code: string;
  message: string;
}

/** The code of a record not sent because an earlier record of its group failed for good. */
export const EARLIER_RECORD_FAILED = "EarlierRecordFailed";

/** Some records were not published; `published` others were. */
export class PublishError extends Error {
  constructor(
    readonly failures: PublishFailure[],
    readonly published: number,
  ) {
    const shown = failures.slice(0, 10).map((f) => `  record ${f.index}: ${f.code}: ${f.message}`);
    const more = failures.length > shown.length ? [`  ... and ${failures.length - shown.length} more`] : [];
    super(`${failures.length} record(s) were not published (${published} were):\n${[...shown, ...more].join("\n")}`);
    this.name = "PublishError";
  }
}

interface Entry {
  index: number;
  groupId: string;
  deduplicationId: string;
  body: string;
  bytes: number;
  attempts: number;
  /** Not resent before this time (ms since epoch). */
  notBefore: number;
  state: "pending" | "in-flight" | "done";
}

/** Returns `publish(records)`, which resolves when every record is published or throws. */
export function createPublisher<T>(options: PublisherOptions<T>): (records: readonly T[]) => Promise<PublishResult> {
  const client = options.client ?? new SNSClient({});
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
  const strictOrder = options.strictOrder ?? true;

  return async (records) => {
    const entries = toEntries(records, options);
    const result: PublishResult = { published: 0, calls: 0, messageIds: new Array(records.length) };
    const failures: PublishFailure[] = [];
    const inFlightGroups = new Map<string, number>();
    /** The groups with a record that failed for good, and that record's index. */
    const failedGroups = new Map<string, number>();
    let abortedBy: unknown;
    let head = 0;
    let waiters: (() => void)[] = [];
    const notify = () => {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    };

    const finish = (entry: Entry) => {
      entry.state = "done";
      while (head < entries.length && entries[head].state === "done") head++;
    };

    /** The next call's entries: earliest first, never overtaking an unsent earlier record of the same group. */
    const takeBatch = (now: number): Entry[] => {
      const blocked = new Set(inFlightGroups.keys());
      const batch: Entry[] = [];
      let bytes = 0;
      const end = Math.min(entries.length, head + LOOKAHEAD);
      for (let i = head; i < end && batch.length < MAX_BATCH_ENTRIES; i++) {
        const entry = entries[i];
        if (entry.state !== "pending" || blocked.has(entry.groupId)) continue;
        if (entry.notBefore > now || bytes + entry.bytes > MAX_MESSAGE_BYTES) {
          blocked.add(entry.groupId);
          continue;
        }
        batch.push(entry);
        bytes += entry.bytes;
        if (strictOrder) blocked.add(entry.groupId);
      }
      return batch;
    };

    const waitForChange = (now: number) =>
      new Promise<void>((resolve) => {
        const waiting = entries.slice(head, head + LOOKAHEAD).filter((e) => e.state === "pending" && e.notBefore > now);
        const timer =
          waiting.length > 0 ? setTimeout(notify, Math.min(...waiting.map((e) => e.notBefore)) - now) : undefined;
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });

    const send = async (batch: Entry[]) => {
      for (const entry of batch) {
        entry.state = "in-flight";
        inFlightGroups.set(entry.groupId, (inFlightGroups.get(entry.groupId) ?? 0) + 1);
      }
      try {
        result.calls++;
        const response = await client.send(
          new PublishBatchCommand({
            TopicArn: options.topicArn,
            PublishBatchRequestEntries: batch.map((entry) => ({
              Id: String(entry.index),
              Message: entry.body,
              MessageGroupId: entry.groupId,
              MessageDeduplicationId: entry.deduplicationId,
            })),
          }),
        );
        settle(batch, response.Successful ?? [], response.Failed ?? []);
      } catch (error) {
        abortedBy = error;
        for (const entry of batch) entry.state = "pending";
      } finally {
        for (const entry of batch) {
          const left = (inFlightGroups.get(entry.groupId) ?? 1) - 1;
          if (left > 0) inFlightGroups.set(entry.groupId, left);
          else inFlightGroups.delete(entry.groupId);
        }
        notify();
      }
    };

    const settle = (batch: Entry[], successful: PublishBatchResultEntry[], failed: BatchResultErrorEntry[]) => {
      const byId = new Map(batch.map((entry) => [String(entry.index), entry]));
      for (const success of successful) {
        const entry = byId.get(success.Id ?? "");
        if (!entry) continue;
        byId.delete(success.Id ?? "");
        result.messageIds[entry.index] = success.MessageId ?? "";
        result.published++;
        finish(entry);
      }
      const now = Date.now();
      /** SNS reports entries one by one; the SDK retries whole calls only, so failed entries are resent here. */
      const retryOrFail = (entry: Entry, failure: PublishFailure, senderFault: boolean) => {
        entry.attempts++;
        if (senderFault || entry.attempts >= maxAttempts || failedGroups.has(entry.groupId)) {
          failures.push(failure);
          finish(entry);
          failRestOfGroup(entry);
        } else {
          entry.state = "pending";
          entry.notBefore = now + Math.random() * retryBaseDelayMs * 2 ** (entry.attempts - 1);
        }
      };
      for (const failure of failed) {
        const entry = byId.get(failure.Id ?? "");
        if (!entry) continue;
        byId.delete(failure.Id ?? "");
        const problem = { index: entry.index, code: failure.Code ?? "Unknown", message: failure.Message ?? "" };
        retryOrFail(entry, problem, failure.SenderFault === true);
      }
      for (const entry of byId.values()) {
        const problem = { index: entry.index, code: "NotConfirmed", message: "SNS's answer did not mention it" };
        retryOrFail(entry, problem, false);
      }
    };

    /** Fails, unsent, every later record of the group of `failed`, which failed for good. */
    const failRestOfGroup = (failed: Entry) => {
      if (failedGroups.has(failed.groupId)) return;
      failedGroups.set(failed.groupId, failed.index);
      for (let i = failed.index + 1; i < entries.length; i++) {
        const entry = entries[i];
        if (entry.groupId !== failed.groupId || entry.state !== "pending") continue;
        failures.push({
          index: entry.index,
          code: EARLIER_RECORD_FAILED,
          message: `not sent: record ${failed.index} of group ${JSON.stringify(failed.groupId)} was not published, and sending later records would break the group's order`,
        });
        finish(entry);
      }
    };

    const worker = async () => {
      while (abortedBy === undefined && head < entries.length) {
        const now = Date.now();
        const batch = takeBatch(now);
        if (batch.length === 0) await waitForChange(now);
        else await send(batch);
      }
    };

    await Promise.all(Array.from({ length: concurrency }, worker));
    if (abortedBy !== undefined) {
      const code = abortedBy instanceof Error ? abortedBy.name : "Error";
      const message = abortedBy instanceof Error ? abortedBy.message : String(abortedBy);
      for (const entry of entries) if (entry.state !== "done") failures.push({ index: entry.index, code, message });
    }
    if (failures.length > 0)
      throw new PublishError(
        failures.sort((a, b) => a.index - b.index),
        result.published,
      );
    return result;
  };
}

/** Encodes and checks every record; throws `InvalidRecordsError` naming each bad one. */
function toEntries<T>(records: readonly T[], options: PublisherOptions<T>): Entry[] {
  const problems: RecordProblem[] = [];
  const entries: Entry[] = [];
  records.forEach((record, index) => {
    const problem = (reason: string) => problems.push({ index, reason });
    const body = encode(record, options.body ?? "json");
    if (body === undefined) {
      problem(options.body === "raw" ? "is not a string; raw records must be strings." : "cannot be encoded as JSON.");
      return;
    }
    const bytes = Buffer.byteLength(body, "utf8");
    if (bytes === 0) problem("has an empty body; SNS rejects empty messages.");
    if (bytes > MAX_MESSAGE_BYTES) {
      problem(
        `is ${bytes} bytes; SNS allows at most ${MAX_MESSAGE_BYTES} bytes (256 KB) per message. Store large payloads elsewhere (e.g. S3) and publish a reference.`,
      );
    }
    const groupId = options.groupId(record);
    const groupProblem = idProblem("group id", groupId, MAX_GROUP_ID_LENGTH);
    if (groupProblem) problem(groupProblem);
    const deduplicationId = options.deduplicationId ? options.deduplicationId(record) : contentDeduplicationId(body);
    const deduplicationProblem = idProblem("deduplication id", deduplicationId, MAX_DEDUPLICATION_ID_LENGTH);
    if (deduplicationProblem) problem(deduplicationProblem);
    entries.push({ index, groupId, deduplicationId, body, bytes, attempts: 0, notBefore: 0, state: "pending" });
  });
  if (problems.length > 0) throw new InvalidRecordsError(problems);
  return entries;
}

function encode(record: unknown, format: "json" | "raw"): string | undefined {
  if (format === "raw") return typeof record === "string" ? record : undefined;
  try {
    return JSON.stringify(record) ?? undefined;
  } catch {
    return undefined;
  }
}

function idProblem(what: string, id: unknown, maxLength: number): string | undefined {
  if (typeof id !== "string" || id.length === 0)
    return `has no ${what} (got ${JSON.stringify(id)}); the selector must return a non-empty string.`;
  if (id.length > maxLength) {
    return `has a ${what} of ${id.length} characters; SNS FIFO allows at most ${maxLength}. Use a shorter id or a hash of it.`;
  }
  if (!ID_CHARACTERS.test(id)) {
    return `has a ${what} ${JSON.stringify(id)} with characters SNS FIFO rejects; use letters, digits and punctuation (no spaces).`;
  }
  return undefined;
}

/** What SNS computes for content-based deduplication: the SHA-256 of the body. */
export function contentDeduplicationId(body: string): string {
  return createHash("sha256").update(body, "utf8").digest("hex");
}
