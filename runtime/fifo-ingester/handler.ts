/**
 * The FifoIngester Lambda: SQS FIFO batches in, the user's per-record callback, partial batch
 * responses out.
 *
 * - Records are split by message group. Groups run concurrently; within a group records run one at
 *   a time in queue order through Powertools' `SqsFifoPartialProcessorAsync` with
 *   `skipGroupOnError`, so after a failure every later record of that group is reported failed
 *   (and comes back in order) while the other groups go on.
 * - A body that is not JSON (in `json` mode) can never succeed, so retrying it would only block its
 *   group for `maxReceiveCount` receives. It is sent to the dead-letter queue right away, with the
 *   reason as a message attribute, and reported processed. So is a record the callback rejects by
 *   throwing `RejectMessage` (`runtime/shared/reject-message`), in either body format.
 * - A failure is logged with the record's ids, as an object (`logEvent`): at WARN while SQS will
 *   deliver the record again, at ERROR on the last receive before SQS moves the message to the
 *   dead-letter queue; a record the function dead-letters itself is logged at ERROR.
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import { type MessageAttributeValue, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type LogLevel, logEvent } from "../shared/lambda-log";
import { rejectionReason } from "../shared/reject-message";
import {
  type ConsumerOptions,
  DEAD_LETTER_QUEUE_URL_ENV,
  DEAD_LETTER_REASON_ATTRIBUTE,
  type FifoRecordHandler,
  type FifoRecordMetadata,
  SOURCE_MESSAGE_ID_ATTRIBUTE,
} from "./contract";

/** The SQS record shape of a Lambda event (only the fields this runtime reads are required). */
export interface SqsRecord {
  messageId: string;
  receiptHandle?: string;
  body: string;
  attributes: Record<string, string | undefined>;
  [key: string]: unknown;
}

export interface SqsEvent {
  Records: SqsRecord[];
}

export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** Longest reason text put in a message attribute; parser messages can quote the whole body. */
const MAX_REASON_LENGTH = 512;

/** The consumer function's factory: its Lambda `handler`, calling `callbacks.handler` once per record. */
export function createConsumer(
  callbacks: { handler: FifoRecordHandler },
  options: ConsumerOptions = {},
): { handler: (event: SqsEvent, context?: unknown) => Promise<BatchResponse> } {
  const format = options.body ?? "json";
  let client: SQSClient | undefined;
  const sqs = () => (client ??= new SQSClient({}));

  const deliver = async (record: SqsRecord, meta: FifoRecordMetadata): Promise<void> => {
    let payload: unknown = record.body;
    if (format === "json") {
      try {
        payload = JSON.parse(record.body);
      } catch (error) {
        await deadLetter(sqs(), record, meta, `body is not valid JSON: ${messageOf(error)}`);
        return;
      }
    }
    try {
      await callbacks.handler(payload, meta);
    } catch (error) {
      const reason = rejectionReason(error);
      if (reason === undefined) throw error;
      await deadLetter(sqs(), record, meta, `rejected by the handler: ${reason}`);
    }
  };

  const processRecord = async (record: SqsRecord): Promise<void> => {
    const meta = metadataOf(record);
    try {
      await deliver(record, meta);
    } catch (error) {
      const finalAttempt = options.maxReceiveCount !== undefined && meta.receiveCount >= options.maxReceiveCount;
      log(finalAttempt ? "error" : "warn", "record failed", { ...meta, finalAttempt, error: messageOf(error) });
      throw error;
    }
  };

  const processGroup = async (records: SqsRecord[], context: unknown): Promise<BatchResponse["batchItemFailures"]> => {
    const response = await processPartialResponse(
      { Records: records },
      processRecord,
      new SqsFifoPartialProcessorAsync(),
      {
        context: context as never,
        skipGroupOnError: true,
        // A group whose every record failed is an ordinary partial failure of the whole batch.
        throwOnFullBatchFailure: false,
      },
    );
    return response.batchItemFailures;
  };

  return {
    async handler(event, context) {
      if (!Array.isArray(event?.Records))
        throw new TypeError("FifoIngester: the event has no Records array; expected an SQS event.");
      const failures = await Promise.all(
        recordsByGroup(event.Records).map((records) => processGroup(records, context)),
      );
      return { batchItemFailures: failures.flat() };
    },
  };
}

/** Records split by message group, each group in its original order. */
export function recordsByGroup(records: SqsRecord[]): SqsRecord[][] {
  const groups = new Map<string | undefined, SqsRecord[]>();
  for (const record of records) {
    const groupId = record.attributes?.MessageGroupId;
    const group = groups.get(groupId);
    if (group) group.push(record);
    else groups.set(groupId, [record]);
  }
  return [...groups.values()];
}

export function metadataOf(record: SqsRecord): FifoRecordMetadata {
  const attributes = record.attributes ?? {};
  return {
    messageId: record.messageId,
    groupId: attributes.MessageGroupId ?? "",
    deduplicationId: attributes.MessageDeduplicationId ?? "",
    sequenceNumber: attributes.SequenceNumber ?? "",
    receiveCount: Number(attributes.ApproximateReceiveCount ?? "1"),
  };
}

/**
 * Sends the raw message to the dead-letter queue in its own group, with the reason. The source
 * message id is the deduplication id, so a retry after a lost response does not store it twice.
 */
async function deadLetter(
  client: SQSClient,
  record: SqsRecord,
  meta: FifoRecordMetadata,
  reason: string,
): Promise<void> {
  const queueUrl = process.env[DEAD_LETTER_QUEUE_URL_ENV];
  if (!queueUrl) {
    throw new Error(
      `FifoIngester: ${DEAD_LETTER_QUEUE_URL_ENV} is not set, so message ${meta.messageId} (${reason}) cannot be dead-lettered.`,
    );
  }
  const text = (value: string): MessageAttributeValue => ({ DataType: "String", StringValue: value });
  await client.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: record.body,
      MessageGroupId: meta.groupId,
      MessageDeduplicationId: meta.messageId,
      MessageAttributes: {
        [DEAD_LETTER_REASON_ATTRIBUTE]: text(reason.slice(0, MAX_REASON_LENGTH)),
        [SOURCE_MESSAGE_ID_ATTRIBUTE]: text(meta.messageId),
      },
    }),
  );
  log("error", "record moved to the dead-letter queue", { ...meta, reason });
}

function log(level: LogLevel, message: string, fields: Record<string, unknown>): void {
  logEvent(level, `FifoIngester: ${message}`, fields);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
