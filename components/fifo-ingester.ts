/**
 * FifoIngester: SNS FIFO topic -> SQS FIFO queue -> Lambda. Events are published with the entity
 * id as MessageGroupId, so no two events of one entity are processed at the same time while
 * different entities scale out over many invocations.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  type BodyFormat,
  DEAD_LETTER_QUEUE_URL_ENV,
  type FifoHandlerOptions,
  type FifoRecordHandler,
  fifoIngesterRuntime,
} from "../runtime/fifo-ingester/handler";
import { runtimeEntry } from "./artifact";
import {
  deadLetterDepthAlarmArgs,
  denyInsecureTransport,
  MAX_MESSAGE_RETENTION_SECONDS,
  SNS_TOPIC_POLICY_ACTIONS,
  SQS_MANAGED_ENCRYPTION,
} from "./aws-secure-defaults";
import {
  LambdaFunction,
  type LambdaFunctionArgs,
  type LambdaFunctionSettings,
  validateLambdaFunctionArgs,
} from "./lambda-function";
import { applyTransform, type Transform } from "./transform";
import { isSnsTopicArn } from "./validators/arn";
import { ArgumentChecker, type ArgumentProblem, InvalidArgumentsError, ownerLabel } from "./validation";

export type { BodyFormat, FifoRecordHandler, FifoRecordMetadata } from "../runtime/fifo-ingester/handler";

/**
 * The consumer function's settings (`timeoutSeconds`, `memorySizeMb`, ...) come from
 * {@link LambdaFunctionSettings} with LambdaFunction's defaults; `reservedConcurrency`, when set, must be at
 * least `maxConcurrency`. `permissions` are what `handler` itself calls (e.g.
 * `[{ actions: ["dynamodb:PutItem"], resources: [table.arn] }]`), added to the consumer's role.
 */
export interface FifoIngesterArgs<T = unknown> extends LambdaFunctionSettings {
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
   * An existing SNS FIFO topic to subscribe to instead of creating one.
   * @example "arn:aws:sns:eu-west-1:123456789012:listings.fifo"
   */
  topicArn?: pulumi.Input<string>;
  /** KMS key of the created topic. @default "alias/aws/sns" */
  topicKmsKeyId?: pulumi.Input<string>;
  /** Content-based deduplication on the created topic, for producers that send no dedup id. @default true */
  contentBasedDeduplication?: boolean;
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
  /** The event source mapping's maximum concurrency (2..1000); unset lets Lambda scale with the active groups. */
  maxConcurrency?: number;
  /** Receives before SQS moves a failing message to the dead-letter queue. @default 5 */
  maxReceiveCount?: number;
  /** The queue's visibility timeout; at least six times `timeoutSeconds`. @default 6 * timeoutSeconds */
  visibilityTimeoutSeconds?: number;
  /** How long the queue keeps a message. @default 345600 (4 days) */
  messageRetentionSeconds?: number;
  /** How long the dead-letter queue keeps a message. @default 1209600 (14 days, the maximum) */
  deadLetterRetentionSeconds?: number;
  /**
   * An SNS topic notified when the dead-letter queue holds messages.
   * @example "arn:aws:sns:eu-west-1:123456789012:on-call"
   */
  alarmActionArn?: pulumi.Input<string>;
  /** Extra environment variables for the callback (non-secret settings). */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
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
    function?: LambdaFunctionArgs["transform"];
  };
}

/** SQS: "visibility timeout at least six times the function timeout" for SQS event sources. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
const DEFAULT_TIMEOUT_SECONDS = 30;
/** The longest name that still fits SQS's 80 characters once `-queue`, `-<7 random>` and `.fifo` are added. */
const MAX_NAME_LENGTH = 61;

/** The arguments with every default applied, in one place. */
function withDefaults<T>(args: FifoIngesterArgs<T>) {
  const timeoutSeconds = args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  return {
    body: args.body ?? "json",
    topicKmsKeyId: args.topicKmsKeyId ?? "alias/aws/sns",
    contentBasedDeduplication: args.contentBasedDeduplication ?? true,
    highThroughput: args.highThroughput ?? true,
    batchSize: args.batchSize ?? 10,
    maxReceiveCount: args.maxReceiveCount ?? 5,
    timeoutSeconds,
    visibilityTimeoutSeconds: args.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_FACTOR * timeoutSeconds,
    messageRetentionSeconds: args.messageRetentionSeconds ?? 345_600,
    deadLetterRetentionSeconds: args.deadLetterRetentionSeconds ?? MAX_MESSAGE_RETENTION_SECONDS,
  };
}

/** The runtime an ingester's artifact starts from, for building it outside a Pulumi program too. */
export function fifoIngesterEntry(options: FifoHandlerOptions) {
  return runtimeEntry(fifoIngesterRuntime, options);
}

/** Validates the arguments; every problem is collected. Plain-string ARNs are checked here, Outputs at deployment. */
export function validateFifoIngesterArgs(name: string, args: FifoIngesterArgs<never>): ArgumentChecker {
  const owner = ownerLabel("FifoIngester", name);
  const checker = new ArgumentChecker(owner);
  const { timeoutSeconds } = withDefaults(args);

  checker.check(
    new RegExp(`^[A-Za-z0-9_-]{1,${MAX_NAME_LENGTH}}$`).test(name),
    "name",
    name,
    `cannot name SQS/SNS FIFO resources; use 1..${MAX_NAME_LENGTH} letters, digits, hyphens or underscores (SQS names allow 80 characters with the "-queue-<random>.fifo" suffix).`,
  );
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
    .integerInRange("maxReceiveCount", args.maxReceiveCount, 1, 1000, "an SQS redrive policy allows")
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
  if (args.maxConcurrency !== undefined && args.reservedConcurrency !== undefined) {
    checker.check(
      args.maxConcurrency <= args.reservedConcurrency,
      "maxConcurrency",
      args.maxConcurrency,
      `is above reservedConcurrency ${args.reservedConcurrency}; Lambda would throttle the extra batches. Set maxConcurrency to at most ${args.reservedConcurrency}.`,
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
        `is below ${VISIBILITY_TIMEOUT_FACTOR} x timeoutSeconds (${timeoutSeconds}); use at least ${minimum} so a batch still running is not delivered again, or lower timeoutSeconds.`,
      );
  }
  if (typeof args.topicArn === "string") {
    for (const problem of topicArnProblems(args.topicArn))
      checker.check(false, problem.argument, problem.value, problem.fix);
  }
  if (args.topicArn !== undefined) {
    const onlyForCreatedTopic =
      "applies only to a topic the component creates; set it on the existing topic, or omit topicArn.";
    checker.check(args.topicKmsKeyId === undefined, "topicKmsKeyId", args.topicKmsKeyId, onlyForCreatedTopic);
    checker.check(
      args.contentBasedDeduplication === undefined,
      "contentBasedDeduplication",
      args.contentBasedDeduplication,
      onlyForCreatedTopic,
    );
  }
  if (typeof args.alarmActionArn === "string") {
    checker.check(
      isSnsTopicArn(args.alarmActionArn),
      "alarmActionArn",
      args.alarmActionArn,
      "is not an SNS topic ARN; expected arn:aws:sns:<region>:<account>:<topic>.",
    );
  }
  return checker.include(validateLambdaFunctionArgs(owner, args));
}

/** Problems with an existing topic's ARN: not an SNS ARN, or a standard topic. */
export function topicArnProblems(topicArn: string): ArgumentProblem[] {
  if (!isSnsTopicArn(topicArn)) {
    return [
      {
        argument: "topicArn",
        value: topicArn,
        fix: "is not an SNS topic ARN; expected arn:aws:sns:<region>:<account>:<name>.fifo.",
      },
    ];
  }
  if (!topicArn.endsWith(".fifo")) {
    return [
      {
        argument: "topicArn",
        value: topicArn,
        fix: "is a standard topic; only a FIFO topic (name ending in .fifo) can deliver to an SQS FIFO queue. Pass a FIFO topic, or omit topicArn to create one.",
      },
    ];
  }
  return [];
}

/** What the queue and its dead-letter queue share: FIFO, (high) throughput mode, SSE-SQS. */
export function fifoQueueSettings(highThroughput: boolean) {
  return {
    fifoQueue: true,
    deduplicationScope: highThroughput ? "messageGroup" : "queue",
    fifoThroughputLimit: highThroughput ? "perMessageGroupId" : "perQueue",
    ...SQS_MANAGED_ENCRYPTION,
  };
}

/** Checks a topic ARN known only at deployment (an Output) the way validation checks a plain one. */
export function requireFifoTopicArn(owner: string, topicArn: string): string {
  const problems = topicArnProblems(topicArn);
  if (problems.length > 0) throw new InvalidArgumentsError(owner, problems);
  return topicArn;
}

/** An SNS FIFO topic feeding an SQS FIFO queue consumed by a Lambda function, one record per entity at a time. */
export class FifoIngester<T = unknown> extends pulumi.ComponentResource {
  /** The created topic; undefined when `topicArn` names an existing one. */
  readonly topic?: aws.sns.Topic;
  readonly queue: aws.sqs.Queue;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly subscription: aws.sns.TopicSubscription;
  readonly function: LambdaFunction;
  readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  readonly deadLetterAlarm: aws.cloudwatch.MetricAlarm;
  /** Where producers publish (the created or the given topic). */
  readonly topicArn: pulumi.Output<string>;
  readonly queueArn: pulumi.Output<string>;
  readonly queueUrl: pulumi.Output<string>;
  readonly deadLetterQueueArn: pulumi.Output<string>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly functionName: pulumi.Output<string>;

  constructor(name: string, args: FifoIngesterArgs<T>, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:aws:FifoIngester", name, {}, opts);
    const owner = ownerLabel("FifoIngester", name);
    validateFifoIngesterArgs(name, args).throwIfAny();
    const settings = withDefaults(args);
    const transform = args.transform ?? {};
    const parent = { parent: this };
    const fifoQueue = fifoQueueSettings(settings.highThroughput);

    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-dlq`,
      applyTransform(transform.deadLetterQueue, {
        ...fifoQueue,
        messageRetentionSeconds: settings.deadLetterRetentionSeconds,
      }),
      parent,
    );

    this.queue = new aws.sqs.Queue(
      `${name}-queue`,
      applyTransform(transform.queue, {
        ...fifoQueue,
        visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
        messageRetentionSeconds: settings.messageRetentionSeconds,
        redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) =>
          JSON.stringify({ deadLetterTargetArn, maxReceiveCount: settings.maxReceiveCount }),
        ),
      }),
      parent,
    );

    if (args.topicArn === undefined) {
      const topicArgs = applyTransform(transform.topic, {
        fifoTopic: true,
        contentBasedDeduplication: settings.contentBasedDeduplication,
        fifoThroughputScope: settings.highThroughput ? "MessageGroup" : "Topic",
        kmsMasterKeyId: settings.topicKmsKeyId,
      });
      this.topic = new aws.sns.Topic(`${name}-topic`, topicArgs, {
        ...parent,
        ...topicThroughputScopeOptions(settings.highThroughput, topicArgs.name !== undefined),
      });
      new aws.sns.TopicPolicy(
        `${name}-topic-policy`,
        applyTransform(transform.topicPolicy, {
          arn: this.topic.arn,
          policy: this.topic.arn.apply((arn) => JSON.stringify(topicPolicy(arn))),
        }),
        parent,
      );
      this.topicArn = this.topic.arn;
    } else {
      this.topicArn = pulumi.output(args.topicArn).apply((arn) => requireFifoTopicArn(owner, arn));
    }

    const topicOnlyPolicy = (
      policyName: string,
      queue: aws.sqs.Queue,
      sid: string,
      hatch?: Transform<aws.sqs.QueuePolicyArgs>,
    ) =>
      new aws.sqs.QueuePolicy(
        policyName,
        applyTransform(hatch, {
          queueUrl: queue.url,
          policy: pulumi
            .all([queue.arn, this.topicArn])
            .apply(([queueArn, topicArn]) => JSON.stringify(queuePolicyDocument(queueArn, topicArn, sid))),
        }),
        parent,
      );
    const queuePolicy = topicOnlyPolicy(
      `${name}-queue-policy`,
      this.queue,
      "AllowTopicToDeliver",
      transform.queuePolicy,
    );
    const deadLetterQueuePolicy = topicOnlyPolicy(
      `${name}-dlq-policy`,
      this.deadLetterQueue,
      "AllowTopicToDeadLetterUndeliverable",
      transform.deadLetterQueuePolicy,
    );

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
      { parent: this, dependsOn: [queuePolicy, deadLetterQueuePolicy] },
    );

    this.function = new LambdaFunction(
      `${name}-consumer`,
      {
        owner,
        entry: fifoIngesterEntry({ body: settings.body, maxReceiveCount: settings.maxReceiveCount }),
        callbacks: { handler: args.handler as FifoRecordHandler },
        timeoutSeconds: settings.timeoutSeconds,
        memorySizeMb: args.memorySizeMb,
        runtime: args.runtime,
        awsSdk: args.awsSdk,
        logRetentionDays: args.logRetentionDays,
        reservedConcurrency: args.reservedConcurrency,
        permissions: args.permissions,
        environment: pulumi
          .all([args.environment ?? {}, this.deadLetterQueue.url])
          .apply(([environment, deadLetterQueueUrl]) => ({
            ...environment,
            [DEAD_LETTER_QUEUE_URL_ENV]: deadLetterQueueUrl,
          })),
        policyStatements: pulumi
          .all([this.queue.arn, this.deadLetterQueue.arn])
          .apply(([queueArn, deadLetterQueueArn]) => consumerStatements(queueArn, deadLetterQueueArn, settings.body)),
        transform: transform.function,
      },
      parent,
    );

    this.eventSourceMapping = new aws.lambda.EventSourceMapping(
      `${name}-source`,
      applyTransform(transform.eventSourceMapping, {
        eventSourceArn: this.queue.arn,
        functionName: this.function.arn,
        batchSize: settings.batchSize,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: args.maxConcurrency === undefined ? undefined : { maximumConcurrency: args.maxConcurrency },
        enabled: true,
      }),
      parent,
    );

    this.deadLetterAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-dlq-alarm`,
      applyTransform(
        transform.alarm,
        deadLetterDepthAlarmArgs({
          queueName: this.deadLetterQueue.name,
          alarmDescription: `${owner}: messages in the dead-letter queue (failed ${settings.maxReceiveCount} times, malformed, or undeliverable).`,
          alarmActions: args.alarmActionArn === undefined ? [] : [args.alarmActionArn],
        }),
      ),
      parent,
    );

    this.queueArn = this.queue.arn;
    this.queueUrl = this.queue.url;
    this.deadLetterQueueArn = this.deadLetterQueue.arn;
    this.deadLetterQueueUrl = this.deadLetterQueue.url;
    this.functionName = this.function.name;
    this.registerOutputs({
      topicArn: this.topicArn,
      queueArn: this.queueArn,
      queueUrl: this.queueUrl,
      deadLetterQueueArn: this.deadLetterQueueArn,
      deadLetterQueueUrl: this.deadLetterQueueUrl,
      functionName: this.functionName,
    });
  }
}

/** The function's permissions beyond logs and traces: consume its queue; dead-letter malformed JSON. */
export function consumerStatements(
  queueArn: string,
  deadLetterQueueArn: string,
  body: BodyFormat,
): aws.iam.PolicyStatement[] {
  const statements: aws.iam.PolicyStatement[] = [
    {
      Sid: "ConsumeQueue",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
      Resource: [queueArn],
    },
  ];
  if (body === "json") {
    statements.push({
      Sid: "DeadLetterMalformedRecords",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [deadLetterQueueArn],
    });
  }
  return statements;
}

/** Only the topic may send (delivery, or dead-lettering what it could not deliver); TLS only. */
export function queuePolicyDocument(queueArn: string, topicArn: string, sid: string): aws.iam.PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: sid,
        Effect: "Allow",
        Principal: { Service: "sns.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": topicArn } },
      },
      denyInsecureTransport(queueArn, "sqs:*"),
    ],
  };
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
