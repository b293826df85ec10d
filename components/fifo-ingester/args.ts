/**
 * FifoIngester's arguments, documented where they are declared (the docs tables are generated from
 * these comments), and the defaults they name.
 */
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { BodyFormat, FifoRecordHandler } from "../../runtime/fifo-ingester/contract";
import type { LambdaFunctionSettings, LambdaFunctionTransform } from "../aws/lambda-function";
import { MAX_MESSAGE_RETENTION_SECONDS } from "../aws/secure-defaults";
import type { CreateOrUse } from "../core/existing";
import type { Transform } from "../core/transform";

export type { BodyFormat, FifoRecordHandler, FifoRecordMetadata } from "../../runtime/fifo-ingester/contract";

/** The settings of the SNS FIFO topic the component creates. */
export interface FifoTopicSettings {
  /** KMS key of the created topic. @default "alias/aws/sns" */
  kmsKeyId?: pulumi.Input<string>;
  /** Content-based deduplication on the created topic, for producers that send no dedup id. @default true */
  contentBasedDeduplication?: boolean;
}

export interface FifoIngesterArgs<T = unknown> {
  /**
   * Processes one record: the decoded body and its metadata (group id, dedup id, sequence number,
   * receive count). Throwing marks the record failed; later records of its group wait for it.
   * @example async (listing, meta) => { await ingest(listing); }
   */
  handler: FifoRecordHandler<T>;
  /**
   * `json`: the body is parsed; a body that is not JSON goes to the dead-letter queue at once.
   * `raw`: the callback receives the body string.
   * @default "json"
   */
  body?: BodyFormat;
  /**
   * The SNS FIFO topic producers publish to: the settings of the topic the component creates, or
   * `{ existing: <ARN> }` to subscribe to a FIFO topic that exists instead.
   * @default a created topic with the defaults of {@link FifoTopicSettings}
   * @example { existing: "arn:aws:sns:eu-west-1:123456789012:listings.fifo" }
   */
  topic?: CreateOrUse<FifoTopicSettings, pulumi.Input<string>>;
  /**
   * High-throughput FIFO: dedup and throughput quota per message group on the queues
   * (`deduplicationScope=messageGroup`, `fifoThroughputLimit=perMessageGroupId`) and on the created
   * topic (`fifoThroughputScope=MessageGroup`). SNS cannot switch a topic back to `Topic`, so turning
   * this off later replaces the created topic: a new ARN (`topicArn`) and a new subscription;
   * publishers must move to the new ARN. Turning it on updates the topic in place.
   * @default true
   */
  highThroughput?: boolean;
  /** Records per invocation. @default 10 (SQS FIFO's maximum) */
  batchSize?: number;
  /**
   * The event source mapping's maximum concurrency (2..1000), at most `function.reservedConcurrency`
   * when that is set.
   * @default unset: Lambda scales with the active groups
   */
  maxConcurrency?: number;
  /** Deliveries of a message before SQS moves it to the dead-letter queue. @default 5 */
  maxDeliveryCount?: number;
  /** The queue's visibility timeout; at least six times `function.timeoutSeconds`. @default 6 * function.timeoutSeconds */
  visibilityTimeoutSeconds?: number;
  /** How long the queue keeps a message. @default 345600 (4 days) */
  messageRetentionSeconds?: number;
  /** How long the dead-letter queue keeps a message. @default 1209600 (14 days, the maximum) */
  deadLetterRetentionSeconds?: number;
  /**
   * Where the dead-letter queue's alarm notifies: ARNs, e.g. SNS topics.
   * @default none: the alarm only changes state
   * @example [onCall.arn]
   */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Non-secret settings for the callback, read from `process.env`.
   * @example { API_URL: "https://api.example.com" }
   */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The consumer function, with LambdaFunction's defaults. `permissions` are what `handler` itself
   * calls, added to the consumer's role.
   * @default { timeoutSeconds: 30, memorySizeMb: 256, runtime: "nodejs24.x", architecture: "arm64" }
   * @example { timeoutSeconds: 60, permissions: [{ actions: ["dynamodb:PutItem"], resources: [table.arn] }] }
   */
  function?: LambdaFunctionSettings;
  /** Escape hatches: change what the component did not foresee. */
  transform?: {
    topic?: Transform<aws.sns.TopicArgs>;
    topicPolicy?: Transform<aws.sns.TopicPolicyArgs>;
    queue?: Transform<aws.sqs.QueueArgs>;
    queuePolicy?: Transform<aws.sqs.QueuePolicyArgs>;
    deadLetterQueue?: Transform<aws.sqs.QueueArgs>;
    deadLetterQueuePolicy?: Transform<aws.sqs.QueuePolicyArgs>;
    subscription?: Transform<aws.sns.TopicSubscriptionArgs>;
    eventSourceMapping?: Transform<aws.lambda.EventSourceMappingArgs>;
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    function?: LambdaFunctionTransform;
  };
}

/** The escape hatches of {@link FifoIngesterArgs.transform}, one per child. */
export type FifoIngesterTransform = NonNullable<FifoIngesterArgs["transform"]>;

/** `body`'s default. */
export const DEFAULT_BODY_FORMAT: BodyFormat = "json";
/** `topic.kmsKeyId`'s default: SNS's AWS-managed key. */
export const DEFAULT_TOPIC_KMS_KEY_ID = "alias/aws/sns";
/** `topic.contentBasedDeduplication`'s default. */
export const DEFAULT_CONTENT_BASED_DEDUPLICATION = true;
/** `highThroughput`'s default. */
export const DEFAULT_HIGH_THROUGHPUT = true;
/** `batchSize`'s default: SQS FIFO's maximum. */
export const DEFAULT_BATCH_SIZE = 10;
/** `maxDeliveryCount`'s default. */
export const DEFAULT_MAX_DELIVERY_COUNT = 5;
/** `function.timeoutSeconds`'s default for the consumer. */
export const DEFAULT_TIMEOUT_SECONDS = 30;
/**
 * `visibilityTimeoutSeconds`'s default and minimum, as a multiple of `function.timeoutSeconds`. SQS:
 * "visibility timeout at least six times the function timeout" for SQS event sources.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** `messageRetentionSeconds`'s default: 4 days. */
export const DEFAULT_MESSAGE_RETENTION_SECONDS = 345_600;
/** `deadLetterRetentionSeconds`'s default: 14 days, the maximum. */
export const DEFAULT_DEAD_LETTER_RETENTION_SECONDS = MAX_MESSAGE_RETENTION_SECONDS;
