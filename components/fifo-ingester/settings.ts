/**
 * FifoIngester's arguments settled: every default applied and every problem found, in one pass.
 * Plain-string topic ARNs are checked here; an ARN given as an Output is checked at deployment
 * (`requireFifoTopicArn`) by the same rules.
 */
import type * as pulumi from "@pulumi/pulumi";
import { type BodyFormat, DEAD_LETTER_QUEUE_URL_ENV } from "../../runtime/fifo-ingester/contract";
import { checkAlarmActionArns, isSnsTopicArn } from "../aws/arn";
import { LAMBDA_FUNCTION_NAMES, validateLambdaFunctionArgs } from "../aws/lambda-function";
import { checkLambdaEnvironmentKeys } from "../aws/lambda-environment";
import { MAX_MESSAGE_RETENTION_SECONDS } from "../aws/secure-defaults";
import { checkExisting, type CreateOrUse, usesExisting } from "../core/existing";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { ArgumentChecker, ownerLabel, type Settled } from "../core/validation";
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BODY_FORMAT,
  DEFAULT_CONTENT_BASED_DEDUPLICATION,
  DEFAULT_DEAD_LETTER_RETENTION_SECONDS,
  DEFAULT_HIGH_THROUGHPUT,
  DEFAULT_MAX_DELIVERY_COUNT,
  DEFAULT_MESSAGE_RETENTION_SECONDS,
  DEFAULT_TIMEOUT_SECONDS,
  DEFAULT_TOPIC_KMS_KEY_ID,
  type FifoIngesterArgs,
  type FifoTopicSettings,
  VISIBILITY_TIMEOUT_FACTOR,
} from "./args";

/** The arguments with every default applied. */
export interface FifoIngesterSettings {
  body: BodyFormat;
  /** The created topic's settings, or the existing topic's ARN. */
  topic: CreateOrUse<Required<FifoTopicSettings>, pulumi.Input<string>>;
  highThroughput: boolean;
  batchSize: number;
  /** Unset: Lambda scales with the active groups. */
  maxConcurrency?: number;
  maxDeliveryCount: number;
  /** The consumer's timeout. */
  timeoutSeconds: number;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  deadLetterRetentionSeconds: number;
  alarmActions: pulumi.Input<pulumi.Input<string>[]>;
}

/** The physical names an ingester derives from its name. */
const FIFO_INGESTER_NAMES: readonly DerivedName[] = [
  ...prefixed("-consumer", LAMBDA_FUNCTION_NAMES),
  derived("<name>-queue", NAME_RULES.sqsFifoQueue),
  derived("<name>-dlq", NAME_RULES.sqsFifoQueue),
  derived("<name>-topic", NAME_RULES.snsFifoTopic),
];

/** The arguments settled: defaults applied, and every problem with them. */
export function fifoIngesterSettings(name: string, args: FifoIngesterArgs<never>): Settled<FifoIngesterSettings> {
  const owner = ownerLabel("FifoIngester", name);
  const checker = new ArgumentChecker(owner);
  const timeoutSeconds = args.function?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const minimumVisibilityTimeout = VISIBILITY_TIMEOUT_FACTOR * timeoutSeconds;
  const reservedConcurrency = args.function?.reservedConcurrency;

  checkDerivedNames(checker, "FifoIngester", name, FIFO_INGESTER_NAMES);
  checker
    .check(
      typeof args.handler === "function",
      "handler",
      args.handler,
      "must be a function: async (record, meta) => void.",
    )
    .check(
      args.body === undefined || args.body === "json" || args.body === "raw",
      "body",
      args.body,
      'is not a body format; use "json" or "raw".',
    )
    .integerInRange("batchSize", args.batchSize, 1, 10, "SQS FIFO allows")
    .integerInRange("maxConcurrency", args.maxConcurrency, 2, 1000, "Lambda's SQS maximum concurrency allows")
    .integerInRange("maxDeliveryCount", args.maxDeliveryCount, 1, 1000, "an SQS redrive policy allows")
    .integerInRange(
      "messageRetentionSeconds",
      args.messageRetentionSeconds,
      60,
      MAX_MESSAGE_RETENTION_SECONDS,
      "SQS allows",
    )
    .integerInRange(
      "deadLetterRetentionSeconds",
      args.deadLetterRetentionSeconds,
      60,
      MAX_MESSAGE_RETENTION_SECONDS,
      "SQS allows",
    )
    .check(
      args.maxConcurrency === undefined ||
        reservedConcurrency === undefined ||
        args.maxConcurrency <= reservedConcurrency,
      "maxConcurrency",
      args.maxConcurrency,
      `is above function.reservedConcurrency ${reservedConcurrency}; Lambda would throttle the extra batches. Set maxConcurrency to at most ${reservedConcurrency}.`,
    )
    .integerInRange("visibilityTimeoutSeconds", args.visibilityTimeoutSeconds, 0, 43_200, "SQS allows")
    .check(
      args.visibilityTimeoutSeconds === undefined || args.visibilityTimeoutSeconds >= minimumVisibilityTimeout,
      "visibilityTimeoutSeconds",
      args.visibilityTimeoutSeconds,
      `is below ${VISIBILITY_TIMEOUT_FACTOR} x function.timeoutSeconds (${timeoutSeconds}); use at least ${minimumVisibilityTimeout} so a batch still running is not delivered again, or lower function.timeoutSeconds.`,
    );
  if (usesExisting(args.topic) && typeof args.topic.existing === "string")
    checkFifoTopicArn(checker, args.topic.existing);
  checkExisting(checker, "topic", args.topic, "topic");
  checkAlarmActionArns(checker, args.alarmActions);
  checkLambdaEnvironmentKeys(checker, args.environment, { keys: [DEAD_LETTER_QUEUE_URL_ENV] });
  checker.include(validateLambdaFunctionArgs(owner, args.function ?? {}, "function."));

  const topic = usesExisting(args.topic)
    ? { existing: args.topic.existing }
    : {
        kmsKeyId: args.topic?.kmsKeyId ?? DEFAULT_TOPIC_KMS_KEY_ID,
        contentBasedDeduplication: args.topic?.contentBasedDeduplication ?? DEFAULT_CONTENT_BASED_DEDUPLICATION,
      };
  const settings: FifoIngesterSettings = {
    body: args.body ?? DEFAULT_BODY_FORMAT,
    topic,
    highThroughput: args.highThroughput ?? DEFAULT_HIGH_THROUGHPUT,
    batchSize: args.batchSize ?? DEFAULT_BATCH_SIZE,
    maxConcurrency: args.maxConcurrency,
    maxDeliveryCount: args.maxDeliveryCount ?? DEFAULT_MAX_DELIVERY_COUNT,
    timeoutSeconds,
    visibilityTimeoutSeconds: args.visibilityTimeoutSeconds ?? minimumVisibilityTimeout,
    messageRetentionSeconds: args.messageRetentionSeconds ?? DEFAULT_MESSAGE_RETENTION_SECONDS,
    deadLetterRetentionSeconds: args.deadLetterRetentionSeconds ?? DEFAULT_DEAD_LETTER_RETENTION_SECONDS,
    alarmActions: args.alarmActions ?? [],
  };
  return { settings, problems: checker };
}

/**
 * Records a problem when `topicArn` cannot feed the queue: not an SNS topic ARN, or a standard topic.
 * Only the first applies to an ARN that is not an SNS one.
 */
function checkFifoTopicArn(checker: ArgumentChecker, topicArn: string): ArgumentChecker {
  const snsTopic = isSnsTopicArn(topicArn);
  return checker
    .check(
      snsTopic,
      "topic.existing",
      topicArn,
      "is not an SNS topic ARN; expected arn:aws:sns:<region>:<account>:<name>.fifo.",
    )
    .check(
      !snsTopic || topicArn.endsWith(".fifo"),
      "topic.existing",
      topicArn,
      "is a standard topic; only a FIFO topic (name ending in .fifo) can deliver to an SQS FIFO queue. Pass a FIFO topic, or omit topic.existing to create one.",
    );
}

/** Checks a topic ARN known only at deployment (an Output) the way settling checks a plain one. */
export function requireFifoTopicArn(owner: string, topicArn: string): string {
  checkFifoTopicArn(new ArgumentChecker(owner), topicArn).throwIfAny();
  return topicArn;
}
