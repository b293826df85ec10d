/**
 * ScheduledNotifier (AWS): a schedule-driven, queue-based notification service.
 *
 * EventBridge Scheduler invokes a producer Lambda that streams the inline `recipients` callback into
 * an SQS jobs queue, one job per (recipient, run); a consumer Lambda, rate-limited by the event
 * source mapping's maximum concurrency, calls the inline `send` callback for each job. The API
 * token lives in Secrets Manager (read at run time, cached); non-secret settings are function
 * configuration. A delivery ledger (S3 conditional writes) makes a retried run notify nobody twice.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type * as runtime from "../../runtime/scheduled-notifier";
import {
  NOTIFIER_ENV,
  type Recipient,
  type RecipientsCallback,
  SCHEDULE_TARGET_INPUT,
  type SendCallback,
} from "../../runtime/scheduled-notifier/contract";
import { checkSqsEventSourceMapping, LambdaFunction } from "../aws/lambda-function";
import { failureQueue, secureQueue } from "../aws/secure-queue";
import { runtimeEntry } from "../core/artifact";
import { PatternComponent, whenReported } from "../core/component";
import { usesExisting } from "../core/existing";
import { runtimeFactory } from "../core/runtime-factory";
import { applyTransform, type Transform } from "../core/transform";
import { type ArgumentChecker, refuseSecretValues } from "../core/validation";
import type { ScheduledNotifierArgs } from "./args";
import { ledgerBucket } from "./ledger";
import { consumerPolicyStatements, producerPolicyStatements, schedulerPolicy, schedulerTrustPolicy } from "./policies";
import { type ScheduledNotifierSettings, scheduledNotifierSettings } from "./settings";

export type { ScheduledNotifierArgs, ScheduledNotifierRetry } from "./args";

// Each function's artifact starts from the file that defines its factory, not the entry that lists
// both: the runtime is CommonJS, which esbuild cannot tree-shake, so bundling the entry would put the
// consumer's code and SDKs into the producer's archive and the producer's into the consumer's.
const PRODUCER = runtimeFactory<typeof runtime>(require.resolve("../../runtime/scheduled-notifier/producer"))(
  "createProducer",
);
const CONSUMER = runtimeFactory<typeof runtime>(require.resolve("../../runtime/scheduled-notifier/consumer"))(
  "createConsumer",
);

/** Checks every argument; returns all problems, for the component to throw before it registers anything. */
export function validateScheduledNotifierArgs(name: string, args: ScheduledNotifierArgs<any>): ArgumentChecker {
  return scheduledNotifierSettings(name, args).problems;
}

/** The runtime modules the two functions start from, with the consumer's plain options. */
export function notifierEntries(settings: Pick<ScheduledNotifierSettings, "maxDeliveryCount" | "secretCacheSeconds">) {
  return {
    producer: runtimeEntry(PRODUCER, {}),
    consumer: runtimeEntry(CONSUMER, {
      maxReceiveCount: settings.maxDeliveryCount,
      secretCacheSeconds: settings.secretCacheSeconds,
    }),
  };
}

/** The environment both functions get: the user's, checked for secrets, with the notifier's own variables. */
type FunctionEnvironment = (
  own: Record<string, pulumi.Input<string>>,
) => pulumi.Output<Record<string, pulumi.Input<string>>>;

/**
 * A scheduled notification service: schedule -> producer -> SQS jobs queue -> rate-limited consumer
 * -> third-party API, with dead-letter queues, alarms, the token in Secrets Manager and a delivery
 * ledger so that no recipient is notified twice for the same run.
 */
export class ScheduledNotifier<R extends Recipient = Recipient> extends PatternComponent {
  readonly schedule: aws.scheduler.Schedule;
  readonly schedulerRole: aws.iam.Role;
  readonly producer: LambdaFunction;
  readonly consumer: LambdaFunction;
  readonly jobsQueue: aws.sqs.Queue;
  /** Jobs that could not be delivered, each with a `reason` message attribute. */
  readonly deadLetterQueue: aws.sqs.Queue;
  /** Runs that failed: Scheduler's dead-letter events and the producer's failed invocations. */
  readonly failedRunsQueue: aws.sqs.Queue;
  readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  readonly ledgerBucket: aws.s3.Bucket;
  /** The secret this component created; undefined when `apiToken.existing` was given. */
  readonly secret?: aws.secretsmanager.Secret;
  /** The dead-letter queue's alarm, then the failed-runs queue's. */
  readonly alarms: aws.cloudwatch.MetricAlarm[];

  readonly scheduleArn: pulumi.Output<string>;
  readonly jobsQueueUrl: pulumi.Output<string>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly failedRunsQueueUrl: pulumi.Output<string>;
  /** The ARN of the secret the consumer reads the token from. */
  readonly secretArn: pulumi.Output<string>;
  readonly ledgerBucketName: pulumi.Output<string>;
  readonly producerFunctionName: pulumi.Output<string>;
  readonly consumerFunctionName: pulumi.Output<string>;

  constructor(name: string, args: ScheduledNotifierArgs<R>, opts?: pulumi.ComponentResourceOptions) {
    const { settings, problems } = scheduledNotifierSettings(name, args);
    super("aws", "ScheduledNotifier", name, problems, opts);
    const transform = args.transform ?? {};

    // Scheduler and Lambda deliver failed runs with roles, so no queue lets a service in by its policy.
    const failedRuns = this.createFailureQueue(
      `${name}-failed-runs`,
      "runs failed to start or to enqueue their recipients",
      args,
      transform.failedRunsQueue,
    );
    const deadLetters = this.createFailureQueue(
      `${name}-dead-letters`,
      "jobs could not be delivered",
      args,
      transform.deadLetterQueue,
    );
    this.failedRunsQueue = failedRuns.queue;
    this.deadLetterQueue = deadLetters.queue;
    this.alarms = [deadLetters.alarm, failedRuns.alarm];
    this.jobsQueue = this.createJobsQueue(name, settings, transform.jobsQueue);

    if (usesExisting(args.apiToken)) {
      this.secretArn = pulumi.output(args.apiToken.existing);
    } else {
      this.secret = this.createSecret(name, args.apiToken, transform.secret);
      this.secretArn = this.secret.arn;
    }

    // A bucket's id is its name.
    this.ledgerBucket = ledgerBucket(name, settings.ledgerRetentionDays, transform.ledgerBucket, this.child);
    this.ledgerBucketName = this.ledgerBucket.id;

    const environment = this.functionEnvironment(args.environment);
    const entries = notifierEntries(settings);
    this.producer = this.createProducer(name, args, settings, entries.producer, environment);
    this.consumer = this.createConsumer(name, args, settings, entries.consumer, environment);
    this.configureRunRetries(name, settings);
    this.eventSourceMapping = this.createEventSourceMapping(name, settings, transform.eventSourceMapping);

    this.schedulerRole = this.createSchedulerRole(name, transform.schedulerRole);
    this.schedule = this.createSchedule(name, args.schedule, settings, transform.schedule);

    this.scheduleArn = this.schedule.arn;
    this.jobsQueueUrl = this.jobsQueue.url;
    this.deadLetterQueueUrl = this.deadLetterQueue.url;
    this.failedRunsQueueUrl = this.failedRunsQueue.url;
    this.producerFunctionName = this.producer.name;
    this.consumerFunctionName = this.consumer.name;
    this.registerOutputsOf(
      "scheduleArn",
      "jobsQueueUrl",
      "deadLetterQueueUrl",
      "failedRunsQueueUrl",
      "secretArn",
      "ledgerBucketName",
      "producerFunctionName",
      "consumerFunctionName",
    );
  }

  /** A failure queue whose alarm says what `failed`; its messages carry their reasons. */
  private createFailureQueue(
    queueName: string,
    failed: string,
    args: ScheduledNotifierArgs<R>,
    transform: Transform<aws.sqs.QueueArgs> | undefined,
  ) {
    return failureQueue(
      queueName,
      {
        alarmDescription: `${this.owner}: ${failed}; see the messages' reasons in the queue.`,
        alarmActions: args.alarmActions,
        transform: { queue: transform, alarm: args.transform?.alarm },
      },
      this.child,
    );
  }

  /** The jobs queue, redriving to the dead-letter queue, which takes redrives from it alone. */
  private createJobsQueue(
    name: string,
    settings: ScheduledNotifierSettings,
    transform: Transform<aws.sqs.QueueArgs> | undefined,
  ): aws.sqs.Queue {
    const jobsQueue = secureQueue(
      `${name}-jobs`,
      {
        queue: {
          visibilityTimeoutSeconds: settings.consumerTimeoutSeconds * 6,
          messageRetentionSeconds: settings.messageRetentionSeconds,
          redrivePolicy: pulumi.jsonStringify({
            deadLetterTargetArn: this.deadLetterQueue.arn,
            maxReceiveCount: settings.maxDeliveryCount,
          }),
        },
        transform: { queue: transform },
      },
      this.child,
    ).queue;
    new aws.sqs.RedriveAllowPolicy(
      `${name}-dead-letters-redrive-allow`,
      {
        queueUrl: this.deadLetterQueue.url,
        redriveAllowPolicy: pulumi.jsonStringify({
          redrivePermission: "byQueue",
          sourceQueueArns: [jobsQueue.arn],
        }),
      },
      this.child,
    );
    return jobsQueue;
  }

  /** A new secret holding the API token given as `value`. */
  private createSecret(
    name: string,
    apiToken: { value: pulumi.Input<string>; kmsKeyArn?: pulumi.Input<string> },
    transform: Transform<aws.secretsmanager.SecretArgs> | undefined,
  ): aws.secretsmanager.Secret {
    const secret = new aws.secretsmanager.Secret(
      `${name}-api-token`,
      applyTransform(transform, {
        description: `${this.owner}: the third-party API token its consumer reads at run time`,
        kmsKeyId: apiToken.kmsKeyArn,
      }),
      this.child,
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-api-token-value`,
      { secretId: secret.id, secretString: pulumi.secret(apiToken.value) },
      this.child,
    );
    return secret;
  }

  /**
   * The user's environment, refused at deployment if it holds a secret, merged with the notifier's
   * own variables. Those stay Outputs of their own, so a preview shows the given ones.
   */
  private functionEnvironment(given: ScheduledNotifierArgs["environment"]): FunctionEnvironment {
    const nonSecretEnvironment = refuseSecretValues(
      this.owner,
      "environment",
      given ?? {},
      "environment variables are plain text in the functions' configuration. Pass the API token as apiToken; " +
        "store any other secret in Secrets Manager, grant secretsmanager:GetSecretValue on it with " +
        "functions.<producer|consumer>.permissions and read it at run time.",
    );
    return (own) => nonSecretEnvironment.apply((values) => ({ ...values, ...own }));
  }

  /** The notifier's queue URLs, which both functions get. */
  private queueUrls(): Record<string, pulumi.Input<string>> {
    return {
      [NOTIFIER_ENV.jobsQueueUrl]: this.jobsQueue.url,
      [NOTIFIER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.url,
    };
  }

  /** The function that runs `recipients` and enqueues one job per recipient. */
  private createProducer(
    name: string,
    args: ScheduledNotifierArgs<R>,
    settings: ScheduledNotifierSettings,
    entry: ReturnType<typeof notifierEntries>["producer"],
    environment: FunctionEnvironment,
  ): LambdaFunction {
    return new LambdaFunction(
      `${name}-producer`,
      {
        ...args.functions?.producer,
        owner: this.owner,
        entry,
        callbacks: { recipients: args.recipients as RecipientsCallback },
        timeoutSeconds: settings.producerTimeoutSeconds,
        environment: environment(this.queueUrls()),
        policyStatements: producerPolicyStatements({
          jobsQueueArn: this.jobsQueue.arn,
          deadLetterQueueArn: this.deadLetterQueue.arn,
          failedRunsQueueArn: this.failedRunsQueue.arn,
        }),
        transform: args.transform?.producer,
      },
      this.child,
    );
  }

  /** The function that calls `send` for each job, with the token from the secret and the ledger. */
  private createConsumer(
    name: string,
    args: ScheduledNotifierArgs<R>,
    settings: ScheduledNotifierSettings,
    entry: ReturnType<typeof notifierEntries>["consumer"],
    environment: FunctionEnvironment,
  ): LambdaFunction {
    return new LambdaFunction(
      `${name}-consumer`,
      {
        ...args.functions?.consumer,
        owner: this.owner,
        entry,
        callbacks: { send: args.send as SendCallback },
        timeoutSeconds: settings.consumerTimeoutSeconds,
        environment: environment({
          ...this.queueUrls(),
          [NOTIFIER_ENV.secretArn]: this.secretArn,
          [NOTIFIER_ENV.ledgerBucket]: this.ledgerBucketName,
        }),
        policyStatements: pulumi
          .all([
            this.jobsQueue.arn,
            this.deadLetterQueue.arn,
            this.ledgerBucket.arn,
            this.secretArn,
            args.apiToken.kmsKeyArn,
          ])
          .apply(([jobsQueueArn, deadLetterQueueArn, ledgerBucketArn, secretArn, secretKmsKeyArn]) =>
            whenReported([jobsQueueArn, deadLetterQueueArn, ledgerBucketArn, secretArn], () =>
              consumerPolicyStatements({
                jobsQueueArn,
                deadLetterQueueArn,
                ledgerBucketArn,
                secretArn,
                secretKmsKeyArn,
              }),
            ),
          ),
        transform: args.transform?.consumer,
      },
      this.child,
    );
  }

  /** Lambda's retries of a failed run, whose final failure goes to the failed-runs queue. */
  private configureRunRetries(name: string, settings: ScheduledNotifierSettings): void {
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-producer-async`,
      {
        functionName: this.producer.name,
        maximumRetryAttempts: settings.runRetry.maximumRetryAttempts,
        maximumEventAgeInSeconds: settings.runRetry.maximumEventAgeSeconds,
        destinationConfig: { onFailure: { destination: this.failedRunsQueue.arn } },
      },
      this.child,
    );
  }

  /** The jobs queue feeding the consumer, at most `maxConcurrency` instances at once: the rate limiter. */
  private createEventSourceMapping(
    name: string,
    settings: ScheduledNotifierSettings,
    transform: Transform<aws.lambda.EventSourceMappingArgs> | undefined,
  ): aws.lambda.EventSourceMapping {
    const mappingArgs = applyTransform(transform, {
      eventSourceArn: this.jobsQueue.arn,
      functionName: this.consumer.arn,
      batchSize: settings.batchSize,
      scalingConfig: { maximumConcurrency: settings.maxConcurrency },
      functionResponseTypes: ["ReportBatchItemFailures"],
    });
    checkSqsEventSourceMapping(this.owner, mappingArgs);
    return new aws.lambda.EventSourceMapping(`${name}-jobs-mapping`, mappingArgs, this.child);
  }

  /** The role the schedule invokes the producer with. */
  private createSchedulerRole(name: string, transform: Transform<aws.iam.RoleArgs> | undefined): aws.iam.Role {
    return new aws.iam.Role(
      `${name}-scheduler-role`,
      applyTransform(transform, {
        assumeRolePolicy: this.producer.arn.apply((producerArn) =>
          whenReported([producerArn], (arn) => schedulerTrustPolicy(arn)),
        ),
      }),
      this.child,
    );
  }

  /** The schedule, created once its role may invoke the producer. */
  private createSchedule(
    name: string,
    scheduleExpression: string,
    settings: ScheduledNotifierSettings,
    transform: Transform<aws.scheduler.ScheduleArgs> | undefined,
  ): aws.scheduler.Schedule {
    const policy = new aws.iam.RolePolicy(
      `${name}-scheduler-policy`,
      {
        role: this.schedulerRole.id,
        policy: schedulerPolicy({ producerArn: this.producer.arn, failedRunsQueueArn: this.failedRunsQueue.arn }),
      },
      this.child,
    );
    return new aws.scheduler.Schedule(
      `${name}-schedule`,
      applyTransform(transform, {
        description: `${this.owner}: starts a notification run`,
        scheduleExpression,
        scheduleExpressionTimezone: settings.timeZone,
        state: settings.scheduleEnabled ? "ENABLED" : "DISABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: this.producer.arn,
          roleArn: this.schedulerRole.arn,
          input: JSON.stringify(SCHEDULE_TARGET_INPUT),
          retryPolicy: {
            maximumRetryAttempts: settings.scheduleRetry.maximumRetryAttempts,
            maximumEventAgeInSeconds: settings.scheduleRetry.maximumEventAgeSeconds,
          },
          deadLetterConfig: { arn: this.failedRunsQueue.arn },
        },
      }),
      { ...this.child, dependsOn: [policy] },
    );
  }
}
