/**
 * FifoIngester: SNS FIFO topic -> SQS FIFO queue -> Lambda. Events are published with the entity
 * id as MessageGroupId, so no two events of one entity are processed at the same time while
 * different entities scale out over many invocations.
 */
import { runtimeFactory } from "../core/runtime-factory";
import type * as runtime from "../../runtime/fifo-ingester";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  type BodyFormat,
  DEAD_LETTER_QUEUE_URL_ENV,
  type FifoHandlerOptions,
  type FifoRecordHandler,
} from "../../runtime/fifo-ingester/handler";
import { runtimeEntry } from "../core/artifact";
import { denyInsecureTransport, MAX_MESSAGE_RETENTION_SECONDS, SNS_TOPIC_POLICY_ACTIONS } from "../aws/secure-defaults";
import { PatternComponent } from "../core/component";
import { type CreateOrUse, checkExisting, usesExisting } from "../core/existing";
import {
  LAMBDA_FUNCTION_NAMES,
  LambdaFunction,
  type LambdaFunctionSettings,
  type LambdaFunctionTransform,
  checkLambdaEnvironmentKeys,
  nonSecretLambdaEnvironment,
  checkSqsEventSourceMapping,
  validateLambdaFunctionArgs,
} from "../aws/lambda-function";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { failureQueue, secureQueue } from "../aws/secure-queue";
import { applyTransform, type Transform } from "../core/transform";
import { checkAlarmActionArns, isSnsTopicArn } from "../aws/arn";
import { ArgumentChecker, type ArgumentProblem, InvalidArgumentsError, ownerLabel } from "../core/validation";

export type { BodyFormat, FifoRecordHandler, FifoRecordMetadata } from "../../runtime/fifo-ingester/handler";

const CONSUMER = runtimeFactory<typeof runtime>(require.resolve("../../runtime/fifo-ingester"))("createConsumer");

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

/** SQS: "visibility timeout at least six times the function timeout" for SQS event sources. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
const DEFAULT_TIMEOUT_SECONDS = 30;
/** The physical names an ingester derives from its name. */
const FIFO_INGESTER_NAMES: readonly DerivedName[] = [
  ...prefixed("-consumer", LAMBDA_FUNCTION_NAMES),
  derived("<name>-queue", NAME_RULES.sqsFifoQueue),
  derived("<name>-dlq", NAME_RULES.sqsFifoQueue),
  derived("<name>-topic", NAME_RULES.snsFifoTopic),
];

/** The arguments with every default applied, in one place. */
function withDefaults<T>(args: FifoIngesterArgs<T>) {
  const timeoutSeconds = args.function?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const createdTopic = usesExisting(args.topic) ? undefined : args.topic;
  return {
    body: args.body ?? "json",
    topicKmsKeyId: createdTopic?.kmsKeyId ?? "alias/aws/sns",
    contentBasedDeduplication: createdTopic?.contentBasedDeduplication ?? true,
    highThroughput: args.highThroughput ?? true,
    batchSize: args.batchSize ?? 10,
    maxDeliveryCount: args.maxDeliveryCount ?? 5,
    timeoutSeconds,
    visibilityTimeoutSeconds: args.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_FACTOR * timeoutSeconds,
    messageRetentionSeconds: args.messageRetentionSeconds ?? 345_600,
    deadLetterRetentionSeconds: args.deadLetterRetentionSeconds ?? MAX_MESSAGE_RETENTION_SECONDS,
    alarmActions: args.alarmActions ?? [],
  };
}

/** The runtime an ingester's artifact starts from, for building it outside a Pulumi program too. */
export function fifoIngesterEntry(options: FifoHandlerOptions) {
  return runtimeEntry(CONSUMER, options);
}

/** Validates the arguments; every problem is collected. Plain-string ARNs are checked here, Outputs at deployment. */
export function validateFifoIngesterArgs(name: string, args: FifoIngesterArgs<never>): ArgumentChecker {
  const owner = ownerLabel("FifoIngester", name);
  const checker = new ArgumentChecker(owner);
  const { timeoutSeconds } = withDefaults(args);
  const reservedConcurrency = args.function?.reservedConcurrency;

  checkDerivedNames(checker, "FifoIngester", name, FIFO_INGESTER_NAMES);
  checker.check(
    typeof args.handler === "function",
    "handler",
    args.handler,
    "must be a function: async (record, meta) => void.",
  );
  if (args.body !== undefined) {
    checker.check(
      args.body === "json" || args.body === "raw",
      "body",
      args.body,
      'is not a body format; use "json" or "raw".',
    );
  }
  checker
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
    );
  if (args.maxConcurrency !== undefined && reservedConcurrency !== undefined) {
    checker.check(
      args.maxConcurrency <= reservedConcurrency,
      "maxConcurrency",
      args.maxConcurrency,
      `is above function.reservedConcurrency ${reservedConcurrency}; Lambda would throttle the extra batches. Set maxConcurrency to at most ${reservedConcurrency}.`,
    );
  }
  if (args.visibilityTimeoutSeconds !== undefined) {
    const minimum = VISIBILITY_TIMEOUT_FACTOR * timeoutSeconds;
    checker
      .integerInRange("visibilityTimeoutSeconds", args.visibilityTimeoutSeconds, 0, 43_200, "SQS allows")
      .check(
        args.visibilityTimeoutSeconds >= minimum,
        "visibilityTimeoutSeconds",
        args.visibilityTimeoutSeconds,
        `is below ${VISIBILITY_TIMEOUT_FACTOR} x function.timeoutSeconds (${timeoutSeconds}); use at least ${minimum} so a batch still running is not delivered again, or lower function.timeoutSeconds.`,
      );
  }
  if (usesExisting(args.topic) && typeof args.topic.existing === "string") {
    for (const problem of topicArnProblems(args.topic.existing))
      checker.check(false, problem.argument, problem.value, problem.fix);
  }
  checkExisting(checker, "topic", args.topic, "topic");
  checkAlarmActionArns(checker, args.alarmActions);
  checkLambdaEnvironmentKeys(checker, args.environment);
  return checker.include(validateLambdaFunctionArgs(owner, args.function ?? {}, "function."));
}

/** Problems with an existing topic's ARN: not an SNS ARN, or a standard topic. */
export function topicArnProblems(topicArn: string): ArgumentProblem[] {
  if (!isSnsTopicArn(topicArn)) {
    return [
      {
        argument: "topic.existing",
        value: topicArn,
        fix: "is not an SNS topic ARN; expected arn:aws:sns:<region>:<account>:<name>.fifo.",
      },
    ];
  }
  if (!topicArn.endsWith(".fifo")) {
    return [
      {
        argument: "topic.existing",
        value: topicArn,
        fix: "is a standard topic; only a FIFO topic (name ending in .fifo) can deliver to an SQS FIFO queue. Pass a FIFO topic, or omit topic.existing to create one.",
      },
    ];
  }
  return [];
}

/** What the queue and its dead-letter queue share: FIFO and the (high) throughput mode. */
export function fifoQueueSettings(highThroughput: boolean) {
  return {
    fifoQueue: true,
    deduplicationScope: highThroughput ? "messageGroup" : "queue",
    fifoThroughputLimit: highThroughput ? "perMessageGroupId" : "perQueue",
  };
}

/** Checks a topic ARN known only at deployment (an Output) the way validation checks a plain one. */
export function requireFifoTopicArn(owner: string, topicArn: string): string {
  const problems = topicArnProblems(topicArn);
  if (problems.length > 0) throw new InvalidArgumentsError(owner, problems);
  return topicArn;
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
    super("aws", "FifoIngester", name, validateFifoIngesterArgs(name, args), opts);
    const settings = withDefaults(args);
    const transform = args.transform ?? {};
    const fifoQueue = fifoQueueSettings(settings.highThroughput);

    if (usesExisting(args.topic)) {
      this.topicArn = pulumi.output(args.topic.existing).apply((arn) => requireFifoTopicArn(this.owner, arn));
    } else {
      const topicArgs = applyTransform(transform.topic, {
        fifoTopic: true,
        contentBasedDeduplication: settings.contentBasedDeduplication,
        fifoThroughputScope: settings.highThroughput ? "MessageGroup" : "Topic",
        kmsMasterKeyId: settings.topicKmsKeyId,
      });
      this.topic = new aws.sns.Topic(`${name}-topic`, topicArgs, {
        ...this.child,
        ...topicThroughputScopeOptions(settings.highThroughput, topicArgs.name !== undefined),
      });
      new aws.sns.TopicPolicy(
        `${name}-topic-policy`,
        applyTransform(transform.topicPolicy, {
          arn: this.topic.arn,
          policy: this.topic.arn.apply((arn) => JSON.stringify(topicPolicy(arn))),
        }),
        this.child,
      );
      this.topicArn = this.topic.arn;
    }

    const deadLetter = failureQueue(
      `${name}-dlq`,
      {
        queue: { ...fifoQueue, messageRetentionSeconds: settings.deadLetterRetentionSeconds },
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
    this.deadLetterQueue = deadLetter.queue;
    this.alarm = deadLetter.alarm;

    const delivery = secureQueue(
      `${name}-queue`,
      {
        queue: {
          ...fifoQueue,
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
    this.queue = delivery.queue;

    this.subscription = new aws.sns.TopicSubscription(
      `${name}-subscription`,
      applyTransform(transform.subscription, {
        topic: this.topicArn,
        protocol: "sqs",
        endpoint: this.queue.arn,
        rawMessageDelivery: true,
        // Messages SNS cannot deliver to the queue (policy, quota) land in the dead-letter queue too.
        redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) => JSON.stringify({ deadLetterTargetArn })),
      }),
      { ...this.child, dependsOn: [delivery.policy, deadLetter.policy] },
    );

    this.function = new LambdaFunction(
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

    const mappingArgs = applyTransform(transform.eventSourceMapping, {
      eventSourceArn: this.queue.arn,
      functionName: this.function.arn,
      batchSize: settings.batchSize,
      functionResponseTypes: ["ReportBatchItemFailures"],
      scalingConfig: args.maxConcurrency === undefined ? undefined : { maximumConcurrency: args.maxConcurrency },
      enabled: true,
    });
    checkSqsEventSourceMapping(this.owner, mappingArgs);
    this.eventSourceMapping = new aws.lambda.EventSourceMapping(`${name}-source`, mappingArgs, this.child);

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
}

/** The function's permissions beyond logs and traces: consume its queue; dead-letter what can never succeed. */
export function consumerStatements(queueArn: string, deadLetterQueueArn: string): aws.iam.PolicyStatement[] {
  return [
    {
      Sid: "ConsumeQueue",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
      Resource: [queueArn],
    },
    {
      // Malformed JSON bodies, and records the callback rejects (RejectMessage) in either body format.
      Sid: "DeadLetterRejectedRecords",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [deadLetterQueueArn],
    },
  ];
}

/** The created topic refuses requests without TLS; same-account principals publish through their IAM policies. */
export function topicPolicy(topicArn: string): aws.iam.PolicyDocument {
  return { Version: "2012-10-17", Statement: [denyInsecureTransport(topicArn, SNS_TOPIC_POLICY_ACTIONS)] };
}

/**
 * How the created topic changes when `highThroughput` does. SNS switches a FIFO topic's
 * `fifoThroughputScope` from `Topic` to `MessageGroup` in place, but never back
 * (https://docs.aws.amazon.com/sns/latest/dg/fifo-high-throughput.html): asking for `Topic` on a
 * topic that has `MessageGroup` would fail the update, so that change replaces the topic instead.
 * An auto-named replacement is created before the old topic is deleted; a topic given a fixed name
 * (through `transform.topic`) must be deleted first, since two topics cannot share a name.
 */
export function topicThroughputScopeOptions(
  highThroughput: boolean,
  fixedName: boolean,
): Pick<pulumi.CustomResourceOptions, "replaceOnChanges" | "deleteBeforeReplace"> {
  if (highThroughput) return {};
  return { replaceOnChanges: ["fifoThroughputScope"], ...(fixedName ? { deleteBeforeReplace: true } : {}) };
}
