/**
 * What a ScheduledNotifier is given: its arguments, documented (the docs tables are generated from
 * this TSDoc), and the defaults that the TSDoc states, each written once.
 */
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { Recipient, RecipientsCallback, SendCallback } from "../../runtime/scheduled-notifier/contract";
import type { LambdaFunctionSettings, LambdaFunctionTransform } from "../aws/lambda-function";
import type { CreateOrUse } from "../core/existing";
import type { Transform } from "../core/transform";

/** Retries of an asynchronous invocation, as EventBridge Scheduler and Lambda count them. */
export interface ScheduledNotifierRetry {
  /** Retries after the first attempt. */
  maximumRetryAttempts?: number;
  /** How late an attempt may still start after failures or throttling. */
  maximumEventAgeSeconds?: number;
}

export interface ScheduledNotifierArgs<R extends Recipient = Recipient> {
  /**
   * When runs start: an EventBridge Scheduler `cron(...)` (six fields: minutes hours day-of-month
   * month day-of-week year, one of the day fields `?`) or `rate(...)` expression.
   * @example "cron(0 9 ? * MON-FRI *)"
   * @example "rate(6 hours)"
   */
  schedule: string;
  /**
   * The IANA time zone the cron expression is evaluated in (daylight saving time included): a zone
   * name, never a UTC offset such as `"+01:00"` (use `"Etc/GMT-1"` for a fixed UTC+01:00).
   * @default "UTC"
   * @example "Europe/Berlin"
   */
  timeZone?: string;
  /** Whether the schedule fires; a disabled notifier keeps its queues and can still be run by hand. @default true */
  scheduleEnabled?: boolean;
  /**
   * The producer: yields the recipients of one run, one by one (e.g. pages of a database query).
   * Each needs a stable `id`; the job's idempotency key is `<run id>:<recipient id>`.
   * @example async function* (run) { for await (const page of db.pages()) yield* page; }
   */
  recipients: RecipientsCallback<R>;
  /**
   * The consumer: notifies one recipient; throws on failure, or throws `RateLimitedError(seconds)`
   * (from `queue-patterns/errors`) when the API says to slow down.
   * @example async (recipient, { secret }) => { await api.post(recipient.id, secret); }
   */
  send: SendCallback<R>;
  /**
   * The API token's Secrets Manager secret. `{ value }` stores the token in a new secret (always as a
   * Pulumi secret); `{ existing }` names a secret holding the token as text: its complete ARN (ending
   * in `-` and the six random characters Secrets Manager adds, as the console shows it) is granted
   * exactly, a partial ARN, without them, as `<ARN>-??????`: that secret, and a secret created later
   * under the same name. `kmsKeyArn`, for either, is the secret's customer managed KMS key, if any;
   * the consumer may then decrypt with it via Secrets Manager. Its key policy must let IAM policies
   * grant use of the key, as the default key policy does
   * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
   * The functions get the secret's ARN, never the token.
   * @example { value: new pulumi.Config().requireSecret("messagingApiToken") }
   * @example { existing: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token-AbCdEf" }
   */
  apiToken: CreateOrUse<{ value: pulumi.Input<string> }, pulumi.Input<string>> & { kmsKeyArn?: pulumi.Input<string> };
  /** How long the consumer caches the token in memory; a rotated token is picked up within this time. @default 300 */
  secretCacheSeconds?: number;
  /**
   * Non-secret settings, given to both functions as environment variables (e.g. the API's URL);
   * secrets go in `apiToken`, never here. Refused: the keys Lambda reserves (`AWS_REGION`, `TZ`, ...,
   * as its documentation lists them; other `AWS_` names such as `AWS_ENDPOINT_URL_S3` are allowed),
   * names starting `NOTIFIER_` (the notifier's own), and more than 3 KB in all.
   * @example { MESSAGING_API_URL: "https://api.example.com/v1" }
   */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The most consumer instances working at once: the rate limiter. Each instance sends one
   * notification at a time, so in-flight API calls never exceed it. "Sizing `maxConcurrency`" in
   * docs/scheduled-notifier.md says how to choose it.
   * @default 2
   */
  maxConcurrency?: number;
  /** Jobs per consumer invocation, sent one after another. @default 10 */
  batchSize?: number;
  /**
   * Deliveries of a job before it is dead-lettered with its reason. Rate-limit deferrals count too,
   * so leave room for them.
   * @default 10
   */
  maxDeliveryCount?: number;
  /** How long an undelivered job waits in the jobs queue; SQS allows 60..1209600. @default 345600 (4 days) */
  messageRetentionSeconds?: number;
  /**
   * How long the ledger remembers a sent job; must outlive any job that can still arrive: at least
   * `messageRetentionSeconds` in whole days plus 2.
   * @default 14
   */
  ledgerRetentionDays?: number;
  /**
   * The two functions. `permissions` are what that function's callback itself calls (`recipients`
   * in the producer, `send` in the consumer), added to that function's role only. The producer's
   * timeout bounds one run's enqueueing; the consumer's must fit `batchSize` sends, and its
   * `reservedConcurrency`, if set, must be at least `maxConcurrency` so jobs are never throttled.
   * @default { producer: { timeoutSeconds: 300, memorySizeMb: 256 }, consumer: { timeoutSeconds: 30, memorySizeMb: 256 } }
   */
  functions?: { producer?: LambdaFunctionSettings; consumer?: LambdaFunctionSettings };
  /** Lambda's retries of a failed run (the producer's asynchronous invocation). @default { maximumRetryAttempts: 2, maximumEventAgeSeconds: 3600 } */
  runRetry?: ScheduledNotifierRetry;
  /** EventBridge Scheduler's retries when it cannot invoke the producer at all. @default { maximumRetryAttempts: 185, maximumEventAgeSeconds: 3600 } */
  scheduleRetry?: ScheduledNotifierRetry;
  /** Where the dead-letter alarms notify (e.g. SNS topic ARNs). @default none: the alarms only change state */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /** Escape hatches: change what the component did not foresee. */
  transform?: {
    schedule?: Transform<aws.scheduler.ScheduleArgs>;
    schedulerRole?: Transform<aws.iam.RoleArgs>;
    jobsQueue?: Transform<aws.sqs.QueueArgs>;
    deadLetterQueue?: Transform<aws.sqs.QueueArgs>;
    failedRunsQueue?: Transform<aws.sqs.QueueArgs>;
    eventSourceMapping?: Transform<aws.lambda.EventSourceMappingArgs>;
    ledgerBucket?: Transform<aws.s3.BucketArgs>;
    secret?: Transform<aws.secretsmanager.SecretArgs>;
    /** Both dead-letter alarms. */
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    producer?: LambdaFunctionTransform;
    consumer?: LambdaFunctionTransform;
  };
}

/** The defaults the TSDoc above states, for the settings step and the test rigs. */
export const SCHEDULED_NOTIFIER_DEFAULTS = {
  timeZone: "UTC",
  scheduleEnabled: true,
  maxConcurrency: 2,
  batchSize: 10,
  maxDeliveryCount: 10,
  /** 4 days. */
  messageRetentionSeconds: 345_600,
  ledgerRetentionDays: 14,
  secretCacheSeconds: 300,
  producerTimeoutSeconds: 300,
  consumerTimeoutSeconds: 30,
  runRetry: { maximumRetryAttempts: 2, maximumEventAgeSeconds: 3600 },
  scheduleRetry: { maximumRetryAttempts: 185, maximumEventAgeSeconds: 3600 },
} as const;
