/**
 * The consumer: the SQS event source mapping hands it batches of jobs; it calls the user's `send`
 * for each, one after another, so in-flight API calls never exceed the mapping's maximum concurrency.
 *
 * Per job:
 * - claimed in the delivery ledger first; a job whose key was already sent is dropped, so a retried
 *   run or a duplicate delivery notifies nobody twice;
 * - `send` throws a rate-limit error: the job (and the rest of the batch, without calling the API)
 *   is hidden for the retry-after with ChangeMessageVisibility and reported failed: kept, not lost,
 *   not retried in a hot loop;
 * - `send` throws anything else: reported failed, so SQS redelivers it after the visibility timeout;
 * - on its last allowed receive (maxReceiveCount), or when it can never succeed (not a job message,
 *   outcome of an earlier attempt unknown), the job is sent to the dead-letter queue with the reason
 *   as a message attribute and removed from the jobs queue. The queue's redrive policy stays as the
 *   safety net for crashes.
 * The API token is read from Secrets Manager by Powertools Parameters and cached for `secretCacheSeconds`.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import { S3Client } from "@aws-sdk/client-s3";
import { ChangeMessageVisibilityBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type JobMessage, NOTIFIER_ENV, type SendCallback } from "./contract";
import { deferralSeconds, describeError, isRateLimitedError } from "./errors";
import { type DeliveryLedger, S3DeliveryLedger } from "./ledger";
import { log, requireEnv } from "./platform";

/** The fields of an SQS record the consumer reads. */
export interface JobRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes?: { ApproximateReceiveCount?: string };
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface ConsumerOptions {
  /** The jobs queue's maxReceiveCount: on that receive a failing job is dead-lettered with its reason. */
  maxReceiveCount: number;
  /** How long the API token is cached in memory (Powertools `maxAge`). 0 reads it on every batch. */
  secretCacheSeconds: number;
}

/** Collaborators the consumer builds from its environment; tests may pass their own. */
export interface ConsumerDependencies {
  ledger?: DeliveryLedger;
  sqs?: SQSClient;
  secrets?: SecretsProvider;
}

/** Extra seconds a ledger claim outlives the invocation, for clock skew between Lambda and S3. */
const LEASE_MARGIN_SECONDS = 5;

/** Reads a job message; a body that is not one can never succeed and is dead-lettered at once. */
export function parseJob(body: string): JobMessage | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return `the message is not JSON (${describeError(error)})`;
  }
  const job = parsed as Partial<JobMessage> | null;
  if (
    job?.v !== 1 ||
    typeof job.idempotencyKey !== "string" ||
    typeof job.run?.id !== "string" ||
    typeof job.recipient !== "object" ||
    job.recipient === null
  ) {
    return "the message is not a ScheduledNotifier job (expected {v: 1, idempotencyKey, run: {id}, recipient})";
  }
  return job as JobMessage;
}

/** A failed job: kept on the queue for another attempt. Never thrown past the record handler. */
class RetryLater extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "RetryLater";
  }
}

export function createConsumer(
  callbacks: { send: SendCallback },
  options: ConsumerOptions,
  dependencies: ConsumerDependencies = {},
): { handler: (event: { Records: JobRecord[] }, context: LambdaContextLike) => Promise<unknown> } {
  const sqs = dependencies.sqs ?? new SQSClient({});
  const secrets = dependencies.secrets ?? new SecretsProvider();
  let ledger = dependencies.ledger;

  const readSecret = async (): Promise<string> => {
    const arn = requireEnv(NOTIFIER_ENV.secretArn);
    const value = await secrets.get(arn, { maxAge: options.secretCacheSeconds });
    if (typeof value !== "string") throw new Error(`the secret ${arn} has no SecretString; store the token as text`);
    return value;
  };

  const handler = async (event: { Records: JobRecord[] }, context: LambdaContextLike) => {
    ledger ??= new S3DeliveryLedger(new S3Client({}), requireEnv(NOTIFIER_ENV.ledgerBucket));
    const deliveries = ledger;
    const jobsQueueUrl = requireEnv(NOTIFIER_ENV.jobsQueueUrl);
    const deadLetterQueueUrl = requireEnv(NOTIFIER_ENV.deadLetterQueueUrl);
    const deferrals: { record: JobRecord; seconds: number }[] = [];
    /** Once the API rate-limits this batch, its remaining jobs wait without calling it. */
    let rateLimitedUntil = 0;

    const deadLetter = async (record: JobRecord, reason: string, attempt: number) => {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: record.body,
          MessageAttributes: {
            reason: { DataType: "String", StringValue: reason.slice(0, 1024) },
            sourceMessageId: { DataType: "String", StringValue: record.messageId },
            receiveCount: { DataType: "Number", StringValue: String(attempt) },
          },
        }),
      );
      log("error", "job dead-lettered", { messageId: record.messageId, attempt, reason });
    };

    /** A failed attempt: retried later, or dead-lettered with the reason on the last allowed receive. */
    const fail = async (record: JobRecord, attempt: number, reason: string, deferForSeconds?: number) => {
      if (attempt >= options.maxReceiveCount) {
        await deadLetter(record, `${reason} (receive ${attempt} of ${options.maxReceiveCount})`, attempt);
        return;
      }
      if (deferForSeconds !== undefined) deferrals.push({ record, seconds: deferForSeconds });
      log("warn", "job will be retried", { messageId: record.messageId, attempt, reason });
      throw new RetryLater(reason);
    };

    const processJob = async (record: JobRecord, attempt: number) => {
      const job = parseJob(record.body);
      if (typeof job === "string") return deadLetter(record, job, attempt);
      const waitSeconds = (rateLimitedUntil - Date.now()) / 1000;
      if (waitSeconds > 0) {
        return fail(record, attempt, "deferred: the API rate-limited this batch", deferralSeconds(waitSeconds));
      }

      const secret = await readSecret();
      const leaseSeconds = Math.ceil(context.getRemainingTimeInMillis() / 1000) + LEASE_MARGIN_SECONDS;
      const claimed = await deliveries.claim(job.idempotencyKey, leaseSeconds);
      const fields = { messageId: record.messageId, idempotencyKey: job.idempotencyKey, attempt };
      switch (claimed.outcome) {
        case "already-sent":
          log("info", "duplicate job skipped: already sent", { ...fields, sentAt: claimed.sentAt });
          return;
        case "in-progress":
          return fail(record, attempt, "another attempt is sending this job right now");
        case "outcome-unknown":
          return deadLetter(
            record,
            `an attempt started at ${claimed.startedAt} and never recorded its outcome (the function crashed or ` +
              "timed out while sending); not resent, so nobody is notified twice. To send it anyway, delete its " +
              "ledger record, then redrive it.",
            attempt,
          );
      }

      try {
        await callbacks.send(job.recipient, { secret, run: job.run, idempotencyKey: job.idempotencyKey, attempt });
      } catch (error) {
        await deliveries.release(claimed.claim).catch((releaseError) =>
          log("error", "could not release the ledger claim; the job will end as outcome-unknown", {
            ...fields,
            error: describeError(releaseError),
          }),
        );
        if (isRateLimitedError(error)) {
          const seconds = deferralSeconds(error.retryAfterSeconds);
          rateLimitedUntil = Date.now() + seconds * 1000;
          return fail(record, attempt, describeError(error), seconds);
        }
        return fail(record, attempt, `send failed: ${describeError(error)}`);
      }
      // The recipient was notified: a failure to record it must not make the job fail and be sent again.
      await deliveries.markSent(claimed.claim).catch((error) =>
        log("error", "sent, but the ledger did not record it; a later duplicate will end as outcome-unknown", {
          ...fields,
          error: describeError(error),
        }),
      );
    };

    /** Any other error (secret, ledger, SQS) is a failed attempt too, so it also ends with a reason. */
    const processRecord = async (record: JobRecord) => {
      const attempt = Number(record.attributes?.ApproximateReceiveCount ?? "1");
      try {
        await processJob(record, attempt);
      } catch (error) {
        if (error instanceof RetryLater) throw error;
        await fail(record, attempt, describeError(error));
      }
    };

    const response = await processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS), {
      processInParallel: false,
      throwOnFullBatchFailure: false,
    });

    if (deferrals.length > 0) {
      // Best effort: if this fails, the jobs come back after the queue's visibility timeout instead.
      await sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: jobsQueueUrl,
            Entries: deferrals.map(({ record, seconds }, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: seconds,
            })),
          }),
        )
        .catch((error) => log("warn", "could not defer rate-limited jobs", { error: describeError(error) }));
    }
    return response;
  };

  return { handler };
}
