/**
 * What the ScheduledNotifier component and its two functions agree on: the environment variables
 * that carry resource ids, the shapes the user's callbacks see, and the job message format.
 * No imports, so the component can read these names without loading any SDK.
 */

/** Environment variables the component sets on the functions. User settings may not use the prefix. */
export const NOTIFIER_ENV = {
  /** The jobs queue's URL (producer: send; consumer: change visibility). */
  jobsQueueUrl: "NOTIFIER_JOBS_QUEUE_URL",
  /** The jobs dead-letter queue's URL, where a job that cannot be delivered goes with its reason. */
  deadLetterQueueUrl: "NOTIFIER_DEAD_LETTER_QUEUE_URL",
  /** The Secrets Manager ARN of the API token (consumer only). The token itself is never in the environment. */
  secretArn: "NOTIFIER_SECRET_ARN",
  /** The bucket of the delivery ledger (consumer only). */
  ledgerBucket: "NOTIFIER_LEDGER_BUCKET",
} as const;

export const NOTIFIER_ENV_PREFIX = "NOTIFIER_";

/** Where the delivery ledger keeps its records inside its bucket; the bucket's expiry rule targets it. */
export const LEDGER_PREFIX = "ledger/";

/**
 * Whom to notify: any JSON object with an `id`, stable across runs (it is half of the idempotency
 * key). Carry what `send` needs (a phone number, a locale), not whole documents.
 */
export interface Recipient {
  id: string | number;
}

/** One scheduled run. Every attempt of the same scheduled run has the same `id`. */
export interface NotificationRun {
  /** The scheduled time (`2025-03-25T09:00:00Z`) for scheduled runs, or the `runId` of a manual invocation. */
  id: string;
  /** When the schedule fired, as EventBridge Scheduler states it; absent on manual runs. */
  scheduledTime?: string;
}

/** What `send` gets beside the recipient. */
export interface SendContext {
  /** The API token, read from Secrets Manager and cached for `secretCacheSeconds`. */
  secret: string;
  run: NotificationRun;
  /** `<run id>:<recipient id>`: pass it to an API that accepts idempotency keys. */
  idempotencyKey: string;
  /** 1 on the first delivery of this job, then 2, 3, ... (SQS's ApproximateReceiveCount). */
  attempt: number;
}

/** The user's producer callback: yields recipients one by one; they are never held all at once. */
export type RecipientsCallback<R extends Recipient = Recipient> = (run: NotificationRun) => AsyncIterable<R>;

/** The user's consumer callback: resolves when the recipient was notified, throws otherwise. */
export type SendCallback<R extends Recipient = Recipient> = (recipient: R, context: SendContext) => Promise<void>;

/** The job message the producer sends and the consumer reads: one per (recipient, run). */
export interface JobMessage<R extends Recipient = Recipient> {
  v: 1;
  idempotencyKey: string;
  run: NotificationRun;
  recipient: R;
}

/**
 * The producer's event. EventBridge Scheduler fills the `<aws.scheduler.*>` placeholders of the
 * schedule's input; a manual invocation passes `runId` instead.
 */
export interface ProducerEvent {
  scheduledTime?: string;
  scheduleArn?: string;
  executionId?: string;
  attemptNumber?: string;
  runId?: string;
}

/** The schedule's target input: Scheduler replaces the placeholders at each invocation. */
export const SCHEDULE_TARGET_INPUT: ProducerEvent = {
  scheduledTime: "<aws.scheduler.scheduled-time>",
  scheduleArn: "<aws.scheduler.schedule-arn>",
  executionId: "<aws.scheduler.execution-id>",
  attemptNumber: "<aws.scheduler.attempt-number>",
};

/** A job's idempotency key: the same recipient in the same run always gets the same key. */
export function idempotencyKey(run: NotificationRun, recipient: Pick<Recipient, "id">): string {
  return `${run.id}:${recipient.id}`;
}
