/**
 * FifoIngester: SNS FIFO topic -> SQS FIFO queue -> Lambda. Events are published with the entity
 * id as MessageGroupId, so no two events of one entity are processed at the same time while
 * different entities scale out over many invocations.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type * as runtime from "../../runtime/fifo-ingester";
import { type ConsumerOptions, DEAD_LETTER_QUEUE_URL_ENV } from "../../runtime/fifo-ingester/contract";
import { checkSqsEventSourceMapping, LambdaFunction } from "../aws/lambda-function";
import { nonSecretLambdaEnvironment } from "../aws/lambda-environment";
import { failureQueue, type FailureQueue, type SecureQueue, secureQueue } from "../aws/secure-queue";
import { runtimeEntry } from "../core/artifact";
import { PatternComponent } from "../core/component";
import { usesExisting } from "../core/existing";
import { runtimeFactory } from "../core/runtime-factory";
import { applyTransform } from "../core/transform";
import type { ArgumentChecker } from "../core/validation";
import type { FifoIngesterArgs, FifoIngesterTransform, FifoRecordHandler, FifoTopicSettings } from "./args";
import { consumerStatements, topicPolicy } from "./policies";
import { type FifoIngesterSettings, fifoIngesterSettings, requireFifoTopicArn } from "./settings";

export type { BodyFormat, FifoIngesterArgs, FifoRecordHandler, FifoRecordMetadata, FifoTopicSettings } from "./args";
export { requireFifoTopicArn } from "./settings";

const CONSUMER = runtimeFactory<typeof runtime>(require.resolve("../../runtime/fifo-ingester"))("createConsumer");

/** The runtime an ingester's artifact starts from, for building it outside a Pulumi program too. */
export function fifoIngesterEntry(options: ConsumerOptions) {
  return runtimeEntry(CONSUMER, options);
}

/** Validates the arguments; every problem is collected. Plain-string ARNs are checked here, Outputs at deployment. */
export function validateFifoIngesterArgs(name: string, args: FifoIngesterArgs<never>): ArgumentChecker {
  return fifoIngesterSettings(name, args).problems;
}

/** What the queue and its dead-letter queue share: FIFO and the (high) throughput mode. */
export function fifoQueueSettings(highThroughput: boolean) {
  return {
    fifoQueue: true,
    deduplicationScope: highThroughput ? "messageGroup" : "queue",
    fifoThroughputLimit: highThroughput ? "perMessageGroupId" : "perQueue",
  };
}

/** An SNS FIFO topic feeding an SQS FIFO queue consumed by a Lambda function, one record per entity at a time. */
export class FifoIngester<T = unknown> extends PatternComponent {
  /** The created topic; undefined when `topic.existing` names an existing one. */
  readonly topic?: aws.sns.Topic;
  readonly queue: aws.sqs.Queue;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly subscription: aws.sns.TopicSubscription;
  readonly function: LambdaFunction;
  readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  /** Alarms when the dead-letter queue holds a message. */
  readonly alarm: aws.cloudwatch.MetricAlarm;
  /** Where producers publish (the created or the given topic). */
  readonly topicArn: pulumi.Output<string>;
  readonly queueArn: pulumi.Output<string>;
  readonly queueUrl: pulumi.Output<string>;
  readonly deadLetterQueueArn: pulumi.Output<string>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly functionName: pulumi.Output<string>;

  constructor(name: string, args: FifoIngesterArgs<T>, opts?: pulumi.ComponentResourceOptions) {
    const { settings, problems } = fifoIngesterSettings(name, args);
    super("aws", "FifoIngester", name, problems, opts);
    const transform = args.transform ?? {};

    if (usesExisting(settings.topic)) {
      this.topicArn = pulumi.output(settings.topic.existing).apply((arn) => requireFifoTopicArn(this.owner, arn));
    } else {
      this.topic = this.createTopic(name, settings.topic, settings.highThroughput, transform);
      this.topicArn = this.topic.arn;
    }
    const deadLetter = this.createDeadLetterQueue(name, settings, transform);
    this.deadLetterQueue = deadLetter.queue;
    this.alarm = deadLetter.alarm;
    const delivery = this.createQueue(name, settings, transform);
    this.queue = delivery.queue;
    this.subscription = this.subscribeQueue(name, transform, [delivery.policy, deadLetter.policy]);
    this.function = this.createConsumer(name, args, settings, transform);
    this.eventSourceMapping = this.connectQueueToConsumer(name, settings, transform);

    this.queueArn = this.queue.arn;
    this.queueUrl = this.queue.url;
    this.deadLetterQueueArn = this.deadLetterQueue.arn;
    this.deadLetterQueueUrl = this.deadLetterQueue.url;
    this.functionName = this.function.name;
    this.registerOutputsOf(
      "topicArn",
      "queueArn",
      "queueUrl",
      "deadLetterQueueArn",
      "deadLetterQueueUrl",
      "functionName",
    );
  }

  /** The SNS FIFO topic producers publish to, refusing requests without TLS. */
  private createTopic(
    name: string,
    topic: Required<FifoTopicSettings>,
    highThroughput: boolean,
    transform: FifoIngesterTransform,
  ): aws.sns.Topic {
    const topicArgs = applyTransform(transform.topic, {
      fifoTopic: true,
      contentBasedDeduplication: topic.contentBasedDeduplication,
      fifoThroughputScope: highThroughput ? "MessageGroup" : "Topic",
      kmsMasterKeyId: topic.kmsKeyId,
    });
    const created = new aws.sns.Topic(`${name}-topic`, topicArgs, {
      ...this.child,
      ...topicThroughputScopeOptions(highThroughput, topicArgs.name !== undefined),
    });
    new aws.sns.TopicPolicy(
      `${name}-topic-policy`,
      applyTransform(transform.topicPolicy, {
        arn: created.arn,
        policy: created.arn.apply((arn) => JSON.stringify(topicPolicy(arn))),
      }),
      this.child,
    );
    return created;
  }

  /**
   * Where messages go that failed `maxDeliveryCount` times, that the consumer rejects, or that SNS
   * cannot deliver to the queue; its alarm fires on the first one.
   */
  private createDeadLetterQueue(
    name: string,
    settings: FifoIngesterSettings,
    transform: FifoIngesterTransform,
  ): FailureQueue {
    return failureQueue(
      `${name}-dlq`,
      {
        queue: {
          ...fifoQueueSettings(settings.highThroughput),
          messageRetentionSeconds: settings.deadLetterRetentionSeconds,
        },
        sender: {
          sid: "AllowTopicToDeadLetterUndeliverable",
          service: "sns.amazonaws.com",
          sourceArns: [this.topicArn],
        },
        alarmDescription: `${this.owner}: messages in the dead-letter queue (failed ${settings.maxDeliveryCount} times, malformed, or undeliverable).`,
        alarmActions: settings.alarmActions,
        transform: {
          queue: transform.deadLetterQueue,
          policy: transform.deadLetterQueuePolicy,
          alarm: transform.alarm,
        },
      },
      this.child,
    );
  }

  /** The queue the topic delivers to, redriving to the dead-letter queue after `maxDeliveryCount` receives. */
  private createQueue(name: string, settings: FifoIngesterSettings, transform: FifoIngesterTransform): SecureQueue {
    return secureQueue(
      `${name}-queue`,
      {
        queue: {
          ...fifoQueueSettings(settings.highThroughput),
          visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
          messageRetentionSeconds: settings.messageRetentionSeconds,
          redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) =>
            JSON.stringify({ deadLetterTargetArn, maxReceiveCount: settings.maxDeliveryCount }),
          ),
        },
        sender: { sid: "AllowTopicToDeliver", service: "sns.amazonaws.com", sourceArns: [this.topicArn] },
        transform: { queue: transform.queue, policy: transform.queuePolicy },
      },
      this.child,
    );
  }

  /** The topic's raw delivery to the queue, once both queue policies let SNS send. */
  private subscribeQueue(
    name: string,
    transform: FifoIngesterTransform,
    queuePolicies: pulumi.Resource[],
  ): aws.sns.TopicSubscription {
    return new aws.sns.TopicSubscription(
      `${name}-subscription`,
      applyTransform(transform.subscription, {
        topic: this.topicArn,
        protocol: "sqs",
        endpoint: this.queue.arn,
        rawMessageDelivery: true,
        // Messages SNS cannot deliver to the queue (policy, quota) land in the dead-letter queue too.
        redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) => JSON.stringify({ deadLetterTargetArn })),
      }),
      { ...this.child, dependsOn: queuePolicies },
    );
  }

  /** The function running the user's handler, with the dead-letter queue's URL in its environment. */
  private createConsumer(
    name: string,
    args: FifoIngesterArgs<T>,
    settings: FifoIngesterSettings,
    transform: FifoIngesterTransform,
  ): LambdaFunction {
    return new LambdaFunction(
      `${name}-consumer`,
      {
        ...args.function,
        owner: this.owner,
        entry: fifoIngesterEntry({ body: settings.body, maxReceiveCount: settings.maxDeliveryCount }),
        callbacks: { handler: args.handler as FifoRecordHandler },
        timeoutSeconds: settings.timeoutSeconds,
        environment: pulumi
          .all([
            nonSecretLambdaEnvironment(this.owner, args.environment ?? {}, "function.permissions"),
            this.deadLetterQueue.url,
          ])
          .apply(([environment, deadLetterQueueUrl]) => ({
            ...environment,
            [DEAD_LETTER_QUEUE_URL_ENV]: deadLetterQueueUrl,
          })),
        policyStatements: pulumi
          .all([this.queue.arn, this.deadLetterQueue.arn])
          .apply(([queueArn, deadLetterQueueArn]) => consumerStatements(queueArn, deadLetterQueueArn)),
        transform: transform.function,
      },
      this.child,
    );
  }

  /** The event source mapping: batches of the queue to the consumer, with partial batch responses. */
  private connectQueueToConsumer(
    name: string,
    settings: FifoIngesterSettings,
    transform: FifoIngesterTransform,
  ): aws.lambda.EventSourceMapping {
    const mappingArgs = applyTransform(transform.eventSourceMapping, {
      eventSourceArn: this.queue.arn,
      functionName: this.function.arn,
      batchSize: settings.batchSize,
      functionResponseTypes: ["ReportBatchItemFailures"],
      scalingConfig:
        settings.maxConcurrency === undefined ? undefined : { maximumConcurrency: settings.maxConcurrency },
      enabled: true,
    });
    checkSqsEventSourceMapping(this.owner, mappingArgs);
    return new aws.lambda.EventSourceMapping(`${name}-source`, mappingArgs, this.child);
  }
}

/**
 * How the created topic changes when `highThroughput` does. SNS switches a FIFO topic's
 * `fifoThroughputScope` from `Topic` to `MessageGroup` in place, but never back
 * (https://docs.aws.amazon.com/sns/latest/dg/fifo-high-throughput.html): asking for `Topic` on a
 * topic that has `MessageGroup` would fail the update, so that change replaces the topic instead.
 * An auto-named replacement is created before the old topic is deleted; a topic given a fixed name
 * (through `transform.topic`) must be deleted first, since two topics cannot share a name.
 */
function topicThroughputScopeOptions(
  highThroughput: boolean,
  fixedName: boolean,
): Pick<pulumi.CustomResourceOptions, "replaceOnChanges" | "deleteBeforeReplace"> {
  if (highThroughput) return {};
  return { replaceOnChanges: ["fifoThroughputScope"], ...(fixedName ? { deleteBeforeReplace: true } : {}) };
}
