/**
 * What the FifoIngester component and its consumer function agree on: the environment variable that
 * carries the dead-letter queue's URL, the options fixed at deployment, and the shapes the user's
 * callback sees. No imports, so the component reads these without loading any SDK.
 */

/** How a message body reaches the callback: parsed JSON, or the raw string. */
export type BodyFormat = "json" | "raw";

/** What the callback learns about a record besides its body. */
export interface FifoRecordMetadata {
  messageId: string;
  /** The message group (the entity id): records of one group never run at the same time. */
  groupId: string;
  deduplicationId: string;
  /** SQS's sequence number within the queue, increasing within a group. */
  sequenceNumber: string;
  /** How many times SQS has delivered this message, this delivery included. */
  receiveCount: number;
}

/**
 * The user's callback: throwing (or rejecting) marks the record failed, to be received again;
 * throwing `RejectMessage` sends it to the dead-letter queue at once, with the reason.
 */
export type FifoRecordHandler<T = unknown> = (record: T, meta: FifoRecordMetadata) => unknown;

/** Settings fixed at deployment (plain JSON in the artifact). */
export interface ConsumerOptions {
  /** @default "json" */
  body?: BodyFormat;
  /** The queue's redrive `maxReceiveCount`, to flag the last attempt in logs. */
  maxReceiveCount?: number;
}

/** The environment variable holding the dead-letter queue's URL. */
export const DEAD_LETTER_QUEUE_URL_ENV = "FIFO_INGESTER_DLQ_URL";
/** Message attributes on a record the consumer dead-lettered itself. */
export const DEAD_LETTER_REASON_ATTRIBUTE = "DeadLetterReason";
export const SOURCE_MESSAGE_ID_ATTRIBUTE = "SourceMessageId";
