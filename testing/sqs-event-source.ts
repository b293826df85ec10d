/**
 * A local stand-in for Lambda's SQS event source mapping, driving a function artifact from a queue
 * on fauxqs the way the managed poller does:
 * - up to `concurrency` pollers, each receiving batches of up to `batchSize` (FIFO: at most 10);
 * - the event has the documented SQS record shape (attributes, group id, receive count, ...);
 * - with ReportBatchItemFailures, the records listed in `batchItemFailures` stay on the queue and
 *   come back after the visibility timeout; the others are deleted; a thrown error keeps them all;
 * - the queue's redrive policy (maxReceiveCount) moves a message that keeps failing to its DLQ.
 * It stops when the queue has been empty for `idleMs` with nothing in flight, or at `deadlineMs`.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

/** The Lambda event for one batch, as the SQS event source mapping builds it. */
export interface SqsEvent {
  Records: SqsRecord[];
}

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, unknown>;
  md5OfBody: string;
  eventSource: "aws:sqs";
  eventSourceARN: string;
  awsRegion: string;
}

export interface EventSourceOptions {
  client: SQSClient;
  queueUrl: string;
  /** The function: receives the event, returns the handler's result or throws. */
  invoke: (event: SqsEvent) => Promise<unknown>;
  /** @default 10 */
  batchSize?: number;
  /** Parallel pollers (Lambda's maximum concurrency). @default 2 */
  concurrency?: number;
  /** Whether the mapping has FunctionResponseTypes: ["ReportBatchItemFailures"]. @default true */
  reportBatchItemFailures?: boolean;
  /** Visibility timeout given to received messages, seconds. @default 1 */
  visibilityTimeoutSeconds?: number;
  /** @default 1500 */
  idleMs?: number;
  /** @default 120000 */
  deadlineMs?: number;
}

export interface EventSourceStats {
  batches: number;
  records: number;
  /** Records reported failed or in a batch whose invocation threw. */
  failedRecords: number;
  /** Invocations that threw. */
  invocationErrors: number;
  elapsedMs: number;
}

function toRecord(message: Message, queueArn: string, region: string): SqsRecord {
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: (message.Attributes ?? {}) as Record<string, string>,
    messageAttributes: message.MessageAttributes ?? {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** Polls until the queue drains (or the deadline passes) and returns what happened. */
export async function drainQueue(options: EventSourceOptions): Promise<EventSourceStats> {
  const { client, queueUrl } = options;
  const batchSize = options.batchSize ?? 10;
  const reportFailures = options.reportBatchItemFailures ?? true;
  const idleMs = options.idleMs ?? 1500;
  const started = Date.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  const region = await client.config.region();
  const attributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const queueArn = attributes.Attributes?.QueueArn ?? queueUrl;
  const stats: EventSourceStats = { batches: 0, records: 0, failedRecords: 0, invocationErrors: 0, elapsedMs: 0 };
  let lastWork = Date.now();
  let inFlight = 0;

  const poller = async () => {
    while (Date.now() < deadline) {
      const received = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: batchSize,
          VisibilityTimeout: options.visibilityTimeoutSeconds ?? 1,
          WaitTimeSeconds: 0,
          AttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
      );
      const messages = received.Messages ?? [];
      if (messages.length === 0) {
        if (inFlight === 0 && Date.now() - lastWork > idleMs) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      inFlight++;
      lastWork = Date.now();
      const records = messages.map((message) => toRecord(message, queueArn, region));
      stats.batches++;
      stats.records += records.length;
      let failedIds = new Set<string>();
      try {
        const result = (await options.invoke({ Records: records })) as
          { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
        if (reportFailures && result?.batchItemFailures) {
          failedIds = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
        }
      } catch {
        stats.invocationErrors++;
        failedIds = new Set(records.map((record) => record.messageId));
      }
      stats.failedRecords += failedIds.size;
      const done = records.filter((record) => !failedIds.has(record.messageId));
      if (done.length > 0) {
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
          }),
        );
      }
      inFlight--;
      lastWork = Date.now();
    }
  };

  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, poller));
  stats.elapsedMs = Date.now() - started;
  return stats;
}
