/**
 * The producer: invoked by EventBridge Scheduler (asynchronously), it streams the user's
 * `recipients(run)` into the jobs queue, one message per (recipient, run), up to ten per SendMessageBatch
 * (fewer when large jobs would exceed the batch's total size).
 *
 * - Streamed: at most MAX_BATCHES_IN_FLIGHT batches are held, whatever the number of recipients.
 * - A batch's failed entries are resent alone, up to MAX_SEND_ATTEMPTS; entries SQS rejects as the
 *   sender's fault are not retried but dead-lettered with the reason, as are recipients that cannot
 *   become a job (no id, too large, not JSON).
 * - If entries are still unsent at the end, the invocation fails, so Lambda retries the whole run
 *   (then the failed-runs queue). The run id comes from the scheduled time, so a retried run
 *   produces the same idempotency keys and the consumer's ledger skips recipients already notified.
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import {
  idempotencyKey,
  type JobMessage,
  NOTIFIER_ENV,
  type NotificationRun,
  type ProducerEvent,
  type Recipient,
  type RecipientsCallback,
} from "./contract";
import { describeError } from "./errors";
import { log, requireEnv } from "./platform";

/** SendMessageBatch takes at most 10 entries. */
export const BATCH_SIZE = 10;
/** Batches sent concurrently: enough to hide SQS latency, few enough to keep memory flat. */
export const MAX_BATCHES_IN_FLIGHT = 4;
/** Attempts per entry (the first send and up to two resends of the failed entries). */
export const MAX_SEND_ATTEMPTS = 3;
/**
 * The largest job this notifier sends. SQS accepts more today, but a job should carry ids and what
 * `send` needs, not documents.
 */
export const MAX_JOB_BYTES = 256 * 1024;
/**
 * The most job bytes sent in one SendMessageBatch. SQS caps the sum of a batch's messages (1 MiB since
 * 2025, 256 KiB before, and in some regions and emulators still); larger batches fail whole with
 * BatchRequestTooLong. The older limit holds everywhere, and a job of MAX_JOB_BYTES still fits alone.
 */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Run ids become part of every idempotency key; keep them short. */
const MAX_RUN_ID_LENGTH = 128;

export interface RunSummary {
  runId: string;
  /** Jobs accepted by the queue. */
  enqueued: number;
  /** Recipients sent to the dead-letter queue with a reason instead. */
  deadLettered: number;
}

export interface ProducerOptions {
  /** Pause before resending failed entries, doubled per attempt. @default 200 */
  resendDelayMs?: number;
}

interface Job {
  key: string;
  body: string;
  bytes: number;
}

type Prepared = { job: Job } | { rejected: string };

/** The run an event stands for; a run without an id cannot be deduplicated, so it is refused. */
export function runFromEvent(event: ProducerEvent | undefined): NotificationRun {
  const id = event?.runId ?? event?.scheduledTime;
  if (typeof id !== "string" || id.length === 0 || id.startsWith("<aws.scheduler.")) {
    throw new Error(
      `the producer needs a run id: EventBridge Scheduler passes {"scheduledTime": ...}; ` +
        `invoke it by hand with {"runId": "<a unique name for this run>"}. Got ${JSON.stringify(event)}.`,
    );
  }
  if (id.length > MAX_RUN_ID_LENGTH) {
    throw new Error(`the run id is ${id.length} characters; keep it within ${MAX_RUN_ID_LENGTH}.`);
  }
  return event?.scheduledTime ? { id, scheduledTime: event.scheduledTime } : { id };
}

/** Turns a recipient into a job, or says why it cannot be one. */
export function prepareJob(recipient: unknown, run: NotificationRun): Prepared {
  const id = (recipient as Partial<Recipient> | null)?.id;
  const validId = (typeof id === "string" && id.length > 0) || (typeof id === "number" && Number.isFinite(id));
  if (typeof recipient !== "object" || recipient === null || !validId) {
    return { rejected: "a recipient must be an object with a non-empty string or finite number `id`" };
  }
  const key = idempotencyKey(run, recipient as Recipient);
  const message: JobMessage = { v: 1, idempotencyKey: key, run, recipient: recipient as Recipient };
  let body: string;
  try {
    body = JSON.stringify(message);
  } catch (error) {
    return { rejected: `the recipient cannot be serialized as JSON: ${describeError(error)}` };
  }
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_JOB_BYTES) {
    return { rejected: `the job is ${bytes} bytes; the notifier limits a job to ${MAX_JOB_BYTES} bytes` };
  }
  return { job: { key, body, bytes } };
}

/** What is kept of a rejected recipient in the dead-letter queue: the recipient, or its start if huge. */
function deadLetterBody(recipient: unknown, run: NotificationRun, reason: string): string {
  let text: string;
  try {
    text = JSON.stringify(recipient) ?? String(recipient);
  } catch {
    text = String(recipient);
  }
  const excerpt = text.length > 4096 ? `${text.slice(0, 4096)}...` : text;
  return JSON.stringify({ rejectedBy: "producer", reason, run, recipient: excerpt });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createProducer(
  callbacks: { recipients: RecipientsCallback },
  options: ProducerOptions = {},
): { handler: (event: ProducerEvent) => Promise<RunSummary> } {
  const sqs = new SQSClient({});
  const resendDelayMs = options.resendDelayMs ?? 200;

  const handler = async (event: ProducerEvent): Promise<RunSummary> => {
    const run = runFromEvent(event);
    const queueUrl = requireEnv(NOTIFIER_ENV.jobsQueueUrl);
    const deadLetterQueueUrl = requireEnv(NOTIFIER_ENV.deadLetterQueueUrl);
    const summary: RunSummary = { runId: run.id, enqueued: 0, deadLettered: 0 };
    const unsent: { key: string; reason: string }[] = [];

    const deadLetter = async (body: string, reason: string) => {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: body,
          MessageAttributes: { reason: { DataType: "String", StringValue: reason.slice(0, 1024) } },
        }),
      );
      summary.deadLettered++;
      log("warn", "job dead-lettered by the producer", { runId: run.id, reason });
    };

    /** Sends one batch; failed entries are resent alone; what never gets through is noted, never thrown. */
    const sendBatch = async (jobs: Job[]) => {
      let pending: SendMessageBatchRequestEntry[] = jobs.map((job, index) => ({
        Id: String(index),
        MessageBody: job.body,
      }));
      const reasons = new Map<string, string>();
      for (let attempt = 1; pending.length > 0 && attempt <= MAX_SEND_ATTEMPTS; attempt++) {
        if (attempt > 1) await sleep(resendDelayMs * 2 ** (attempt - 2));
        let failed: { Id?: string; SenderFault?: boolean; Code?: string; Message?: string }[];
        try {
          const response = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
          summary.enqueued += response.Successful?.length ?? 0;
          failed = response.Failed ?? [];
        } catch (error) {
          // The SDK already retried throttling and network errors; count the whole batch as failed.
          failed = pending.map((entry) => ({ Id: entry.Id, Code: describeError(error) }));
        }
        const retry = new Set<string>();
        for (const failure of failed) {
          const entry = pending.find((candidate) => candidate.Id === failure.Id);
          if (!entry) continue;
          const reason = `SQS rejected the job: ${failure.Code ?? "error"}${failure.Message ? ` (${failure.Message})` : ""}`;
          if (failure.SenderFault) {
            await deadLetter(entry.MessageBody ?? "", reason);
          } else {
            retry.add(entry.Id ?? "");
            reasons.set(entry.Id ?? "", reason);
          }
        }
        pending = pending.filter((entry) => retry.has(entry.Id ?? ""));
      }
      for (const entry of pending) {
        unsent.push({ key: jobs[Number(entry.Id)].key, reason: reasons.get(entry.Id ?? "") ?? "unknown" });
      }
    };

    const inFlight = new Set<Promise<void>>();
    const dispatch = async (jobs: Job[]) => {
      const sending = sendBatch(jobs).catch((error) => {
        for (const job of jobs) unsent.push({ key: job.key, reason: describeError(error) });
      });
      const tracked = sending.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= MAX_BATCHES_IN_FLIGHT) await Promise.race(inFlight);
    };

    let batch: Job[] = [];
    let batchBytes = 0;
    try {
      for await (const recipient of callbacks.recipients(run)) {
        const prepared = prepareJob(recipient, run);
        if ("rejected" in prepared) {
          await deadLetter(deadLetterBody(recipient, run, prepared.rejected), prepared.rejected);
          continue;
        }
        if (batch.length > 0 && batchBytes + prepared.job.bytes > MAX_BATCH_BYTES) {
          await dispatch(batch);
          batch = [];
          batchBytes = 0;
        }
        batch.push(prepared.job);
        batchBytes += prepared.job.bytes;
        if (batch.length === BATCH_SIZE) {
          await dispatch(batch);
          batch = [];
          batchBytes = 0;
        }
      }
      if (batch.length > 0) await dispatch(batch);
    } finally {
      // Also when `recipients` throws: finish what was handed to SQS before the invocation ends.
      await Promise.all(inFlight);
    }

    log("info", "run enqueued", { ...summary, unsent: unsent.length });
    if (unsent.length > 0) {
      const examples = unsent.slice(0, 5).map((u) => `${u.key} (${u.reason})`);
      throw new Error(
        `${unsent.length} jobs of run ${run.id} could not be enqueued after ${MAX_SEND_ATTEMPTS} attempts, ` +
          `e.g. ${examples.join("; ")}. The run fails so it is retried; recipients already enqueued are not notified twice.`,
      );
    }
    return summary;
  };

  return { handler };
}
