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
import {
  LEDGER_PREFIX,
  NOTIFIER_ENV,
  NOTIFIER_ENV_PREFIX,
  type Recipient,
  type RecipientsCallback,
  SCHEDULE_TARGET_INPUT,
  type SendCallback,
} from "../runtime/scheduled-notifier/contract";
import { consumerRuntime } from "../runtime/scheduled-notifier/consumer";
import { producerRuntime } from "../runtime/scheduled-notifier/producer";
import { isIanaTimeZone } from "../runtime/shared/time-zone";
import { runtimeEntry } from "./artifact";
import {
  deadLetterDepthAlarmArgs,
  deadLetterQueueArgs,
  denyInsecureTransport,
  SQS_MANAGED_ENCRYPTION,
} from "./aws-secure-defaults";
import {
  LambdaFunction,
  type LambdaFunctionArgs,
  type LambdaFunctionSettings,
  validateLambdaFunctionArgs,
} from "./lambda-function";
import { applyTransform, type Transform } from "./transform";
import { arnParts, isCompleteSecretArn, isSecretsManagerSecretArn } from "./validators/arn";
import { scheduleExpressionProblem } from "./validators/schedule-expression";
import { ArgumentChecker, ownerLabel } from "./validation";

/**
 * The settings of one of the two functions. `permissions` are what that function's callback itself
 * calls (`recipients` in the producer, `send` in the consumer), added to that function's role only.
 */
export type NotifierFunctionArgs = Omit<LambdaFunctionSettings, "reservedConcurrency"> &
  Pick<LambdaFunctionArgs, "architecture" | "transform">;

export interface ScheduledNotifierArgs<R extends Recipient = Recipient> {
  /**
   * When runs start: an EventBridge Scheduler `cron(...)` (six fields: minutes hours day-of-month
   * month day-of-week year, one of the day fields `?`) or `rate(...)` expression.
   * @example "cron(0 9 ? * MON-FRI *)"
   * @example "rate(6 hours)"
   */
  schedule: string;
  /**
   * The IANA time zone the cron expression is evaluated in (daylight saving time included).
   * @default "UTC"
   * @example "Europe/Berlin"
   */
  timezone?: string;
  /** Whether the schedule fires; a disabled notifier keeps its queues and can still be run by hand. @default true */
  enabled?: boolean;
  /**
   * The producer: yields the recipients of one run, one by one (e.g. pages of a database query).
   * Each needs a stable `id`; the job's idempotency key is `<run id>:<recipient id>`.
   * @example async function* (run) { for await (const page of db.pages()) yield* page; }
   */
  recipients: RecipientsCallback<R>;
  /**
   * The consumer: notifies one recipient; throws on failure, or throws `RateLimitedError(seconds)`
   * (from `queue-patterns/runtime/scheduled-notifier/errors`) when the API says to slow down.
   * @example async (recipient, { secret }) => { await api.post(recipient.id, secret); }
   */
  send: SendCallback<R>;
  /**
   * The API token, stored in a new Secrets Manager secret (always as a Pulumi secret). Give this or
   * `apiTokenSecretArn`. The functions get the secret's ARN, never the token.
   * @example new pulumi.Config().requireSecret("messagingApiToken")
   */
  apiToken?: pulumi.Input<string>;
  /**
   * An existing Secrets Manager secret holding the API token as text, instead of `apiToken`. Its
   * complete ARN (ending in `-` and the six random characters Secrets Manager adds, as the console
   * shows it) is granted exactly. A partial ARN, without them, is granted as `<ARN>-??????`: that
   * secret, and a secret created later under the same name.
   * @example "arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token-AbCdEf"
   */
  apiTokenSecretArn?: pulumi.Input<string>;
  /**
   * The customer managed KMS key of the secret, if any; the consumer may then decrypt with it via
   * Secrets Manager. Its key policy must let IAM policies grant use of the key, as the default key
   * policy does (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
   */
  secretKmsKeyArn?: pulumi.Input<string>;
  /** How long the consumer caches the token in memory; a rotated token is picked up within this time. @default 300 */
  secretCacheSeconds?: number;
  /**
   * Non-secret settings, given to both functions as environment variables (e.g. the API's URL).
   * @example { MESSAGING_API_URL: "https://api.example.com/v1" }
   */
  settings?: Record<string, string>;
  /**
   * The most consumer instances working at once: the rate limiter. Each instance sends one
   * notification at a time, so in-flight API calls never exceed it. See the README for sizing.
   * @default 2
   */
  maxConcurrency?: number;
  /** Jobs per consumer invocation, sent one after another. @default 10 */
  batchSize?: number;
  /**
   * Receives of a job before it is dead-lettered with its reason. Rate-limit deferrals count too,
   * so leave room for them.
   * @default 10
   */
  maxReceiveCount?: number;
  /** How long an undelivered job waits in the jobs queue. @default 4 */
  messageRetentionDays?: number;
  /** How long the ledger remembers a sent job; must outlive any job that can still arrive. @default 14 */
  ledgerRetentionDays?: number;
  /** The producer function. Its timeout bounds one run's enqueueing. @default { timeoutSeconds: 300, memorySizeMb: 256 } */
  producer?: NotifierFunctionArgs & {
    /** Lambda's retries of a failed run (asynchronous invocation). @default 2 */
    retryAttempts?: number;
    /** How late a run may still start after failures or throttling. @default 3600 */
    maximumEventAgeSeconds?: number;
  };
  /** The consumer function. Its timeout must fit `batchSize` sends. @default { timeoutSeconds: 30, memorySizeMb: 256 } */
  consumer?: NotifierFunctionArgs & {
    /** Reserve concurrency for the consumer; must be at least `maxConcurrency` so jobs are never throttled. */
    reservedConcurrency?: number;
  };
  /** EventBridge Scheduler's retries when it cannot invoke the producer at all. @default { maximumRetryAttempts: 185, maximumEventAgeSeconds: 3600 } */
  scheduleRetry?: { maximumRetryAttempts?: number; maximumEventAgeSeconds?: number };
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
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
  };
}

/** Arguments with their defaults applied. */
interface Normalized {
  timezone: string;
  maxConcurrency: number;
  batchSize: number;
  maxReceiveCount: number;
  messageRetentionDays: number;
  ledgerRetentionDays: number;
  secretCacheSeconds: number;
  producerTimeoutSeconds: number;
  consumerTimeoutSeconds: number;
  producerRetryAttempts: number;
  producerMaximumEventAgeSeconds: number;
  scheduleMaximumRetryAttempts: number;
  scheduleMaximumEventAgeSeconds: number;
}

function normalize(args: Partial<ScheduledNotifierArgs<any>>): Normalized {
  return {
    timezone: args.timezone ?? "UTC",
    maxConcurrency: args.maxConcurrency ?? 2,
    batchSize: args.batchSize ?? 10,
    maxReceiveCount: args.maxReceiveCount ?? 10,
    messageRetentionDays: args.messageRetentionDays ?? 4,
    ledgerRetentionDays: args.ledgerRetentionDays ?? 14,
    secretCacheSeconds: args.secretCacheSeconds ?? 300,
    producerTimeoutSeconds: args.producer?.timeoutSeconds ?? 300,
    consumerTimeoutSeconds: args.consumer?.timeoutSeconds ?? 30,
    producerRetryAttempts: args.producer?.retryAttempts ?? 2,
    producerMaximumEventAgeSeconds: args.producer?.maximumEventAgeSeconds ?? 3600,
    scheduleMaximumRetryAttempts: args.scheduleRetry?.maximumRetryAttempts ?? 185,
    scheduleMaximumEventAgeSeconds: args.scheduleRetry?.maximumEventAgeSeconds ?? 3600,
  };
}

/** The runtime modules the two functions start from, with the consumer's plain options. */
export function notifierEntries(args: Pick<ScheduledNotifierArgs, "maxReceiveCount" | "secretCacheSeconds">) {
  const n = normalize(args);
  return {
    producer: runtimeEntry(producerRuntime, {}),
    consumer: runtimeEntry(consumerRuntime, {
      maxReceiveCount: n.maxReceiveCount,
      secretCacheSeconds: n.secretCacheSeconds,
    }),
  };
}

const DAY_SECONDS = 86_400;
/** Lambda's 4 KB environment, less what the notifier's own variables (queue URLs, ARNs) need. */
const MAX_SETTINGS_BYTES = 3072;

const ENV_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Lambda reserves these prefixes for its own environment variables. */
const RESERVED_ENV_PREFIXES = ["AWS_", "LAMBDA_"];

/** Validates every argument and throws one error listing all problems. */
export function validateScheduledNotifierArgs(name: string, args: ScheduledNotifierArgs<any>): void {
  const owner = ownerLabel("ScheduledNotifier", name);
  const n = normalize(args);
  const checker = new ArgumentChecker(owner);

  if (typeof args.schedule === "string") {
    const problem = scheduleExpressionProblem(args.schedule);
    checker.check(
      problem === undefined,
      "schedule",
      args.schedule,
      `is not a valid EventBridge Scheduler expression: ${problem}.`,
    );
  } else {
    checker.check(false, "schedule", args.schedule, 'is required: a "cron(...)" or "rate(...)" expression.');
  }
  checker.check(
    isIanaTimeZone(n.timezone),
    "timezone",
    n.timezone,
    'is not an IANA time zone name; use one such as "UTC", "Europe/Berlin" or "America/New_York".',
  );
  for (const callback of ["recipients", "send"] as const) {
    checker.check(
      typeof args[callback] === "function",
      callback,
      args[callback],
      `must be an inline ${callback === "recipients" ? "async generator function" : "async function"}.`,
    );
  }

  checker
    .integerInRange("maxConcurrency", n.maxConcurrency, 2, 1000, "Lambda's SQS maximum concurrency allows")
    .integerInRange("batchSize", n.batchSize, 1, 10, "the notifier sends a batch's jobs one by one and allows")
    .integerInRange("maxReceiveCount", n.maxReceiveCount, 1, 1000, "an SQS redrive policy allows")
    .integerInRange("messageRetentionDays", n.messageRetentionDays, 1, 14, "SQS allows")
    .integerInRange("ledgerRetentionDays", n.ledgerRetentionDays, 1, 3650, "the notifier allows")
    .integerInRange("secretCacheSeconds", n.secretCacheSeconds, 0, 3600, "the notifier allows")
    .integerInRange("producer.retryAttempts", n.producerRetryAttempts, 0, 2, "Lambda asynchronous invocation allows")
    .integerInRange(
      "producer.maximumEventAgeSeconds",
      n.producerMaximumEventAgeSeconds,
      60,
      21_600,
      "Lambda asynchronous invocation allows",
    )
    .integerInRange(
      "scheduleRetry.maximumRetryAttempts",
      n.scheduleMaximumRetryAttempts,
      0,
      185,
      "EventBridge Scheduler allows",
    )
    .integerInRange(
      "scheduleRetry.maximumEventAgeSeconds",
      n.scheduleMaximumEventAgeSeconds,
      60,
      86_400,
      "EventBridge Scheduler allows",
    );

  const minimumLedgerDays = n.messageRetentionDays + 2;
  checker.check(
    !Number.isInteger(n.ledgerRetentionDays) || n.ledgerRetentionDays >= minimumLedgerDays,
    "ledgerRetentionDays",
    n.ledgerRetentionDays,
    `is too short: the ledger must outlive every job that can still arrive (messageRetentionDays ${n.messageRetentionDays}, ` +
      `plus up to a day of run retries and a day of margin); use at least ${minimumLedgerDays}.`,
  );

  for (const [prefix, fn] of [
    ["producer.", args.producer],
    ["consumer.", args.consumer],
  ] as const) {
    checker.include(validateLambdaFunctionArgs(owner, fn ?? {}, prefix));
  }
  const reserved = args.consumer?.reservedConcurrency;
  checker.check(
    reserved === undefined || reserved >= n.maxConcurrency,
    "consumer.reservedConcurrency",
    reserved,
    `is below maxConcurrency ${n.maxConcurrency}; Lambda would throttle the event source and jobs could be dead-lettered. ` +
      "Reserve at least maxConcurrency, or leave it unset.",
  );

  checker.check(
    args.apiToken !== undefined || args.apiTokenSecretArn !== undefined,
    "apiToken",
    args.apiToken,
    "is required unless apiTokenSecretArn names an existing secret; pass it as a Pulumi secret (config.requireSecret).",
  );
  checker.check(
    args.apiToken === undefined || args.apiTokenSecretArn === undefined,
    "apiTokenSecretArn",
    typeof args.apiTokenSecretArn === "string" ? args.apiTokenSecretArn : "(an Output)",
    "cannot be combined with apiToken; give one of them.",
  );
  if (typeof args.apiTokenSecretArn === "string") {
    checker.check(
      isSecretsManagerSecretArn(args.apiTokenSecretArn),
      "apiTokenSecretArn",
      args.apiTokenSecretArn,
      'is not a Secrets Manager secret ARN ("arn:aws:secretsmanager:<region>:<account>:secret:<name>").',
    );
  }

  const settings = args.settings ?? {};
  for (const [key, value] of Object.entries(settings)) {
    const reservedPrefix = [...RESERVED_ENV_PREFIXES, NOTIFIER_ENV_PREFIX].find((p) => key.startsWith(p));
    checker.check(
      ENV_NAME.test(key) && reservedPrefix === undefined,
      `settings.${key}`,
      value,
      reservedPrefix
        ? `uses the reserved prefix ${reservedPrefix}; choose another name.`
        : "has a name that is not an environment variable name; use letters, digits and _, starting with a letter.",
    );
    checker.check(
      typeof value === "string",
      `settings.${key}`,
      value,
      "must be a plain string; secrets go in apiToken, never in settings.",
    );
  }
  const settingsBytes = Object.entries(settings).reduce(
    (total, [key, value]) => total + Buffer.byteLength(key) + Buffer.byteLength(String(value)),
    0,
  );
  checker.check(
    settingsBytes <= MAX_SETTINGS_BYTES,
    "settings",
    settingsBytes,
    `bytes in total exceed ${MAX_SETTINGS_BYTES}: Lambda allows 4 KB of environment and the notifier needs about 1 KB; ` +
      "put large values in the secret or fetch them at run time.",
  );
  checker.throwIfAny();
}

/** The Lambda settings of a function's args, without the notifier's own fields. */
function functionSettings(fn: NotifierFunctionArgs | undefined): NotifierFunctionArgs {
  return {
    memorySizeMb: fn?.memorySizeMb,
    logRetentionDays: fn?.logRetentionDays,
    runtime: fn?.runtime,
    architecture: fn?.architecture,
    awsSdk: fn?.awsSdk,
    permissions: fn?.permissions,
    transform: fn?.transform,
  };
}

/**
 * What a policy must name to grant `secretArn`. IAM authorizes a request against the secret's
 * complete ARN, the name followed by `-` and six random characters
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html), so a
 * partial ARN granted as given matches nothing and every read is denied. For a partial ARN the grant
 * is `<ARN>-??????`, the pattern Secrets Manager documents for one secret by name
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/permissions_grant-limited-resources.html);
 * `-*` would also match other secrets whose names merely start the same.
 */
export function secretGrantResource(secretArn: string): string {
  return isCompleteSecretArn(secretArn) ? secretArn : `${secretArn}-??????`;
}

/** The resources the consumer works on, by ARN. */
export interface ConsumerResources {
  jobsQueueArn: string;
  deadLetterQueueArn: string;
  ledgerBucketArn: string;
  secretArn: string;
  /** The secret's customer managed KMS key, if any. */
  secretKmsKeyArn?: string;
}

/** Exactly what the consumer does: consume jobs, dead-letter them, use the ledger, read the token. */
export function consumerPolicyStatements(resources: ConsumerResources): aws.iam.PolicyStatement[] {
  const { jobsQueueArn, deadLetterQueueArn, ledgerBucketArn, secretArn, secretKmsKeyArn } = resources;
  const statements: aws.iam.PolicyStatement[] = [
    {
      Sid: "ConsumeJobs",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
      Resource: [jobsQueueArn],
    },
    { Sid: "DeadLetterJobs", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [deadLetterQueueArn] },
    {
      Sid: "UseDeliveryLedger",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject"],
      Resource: [`${ledgerBucketArn}/${LEDGER_PREFIX}*`],
    },
    {
      // S3 answers a read of a missing key with 404 NoSuchKey only to a caller allowed s3:ListBucket on
      // the bucket, and with 403 AccessDenied to any other
      // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"). The ledger
      // reads records that may have expired and must tell "gone" from "denied". Not narrowed by
      // s3:prefix: S3 does not document that key for that check, and the bucket holds only ledger records.
      Sid: "TellMissingLedgerRecords",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [ledgerBucketArn],
    },
    {
      Sid: "ReadApiToken",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [secretGrantResource(secretArn)],
    },
  ];
  if (secretKmsKeyArn) {
    statements.push({
      Sid: "DecryptApiToken",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [secretKmsKeyArn],
      // Only when Secrets Manager asks on the consumer's behalf, in the secret's region.
      Condition: {
        StringEquals: { "kms:ViaService": `secretsmanager.${arnParts(secretArn).region}.amazonaws.com` },
      },
    });
  }
  return statements;
}

/**
 * A scheduled notification service: schedule -> producer -> SQS jobs queue -> rate-limited consumer
 * -> third-party API, with dead-letter queues, alarms, the token in Secrets Manager and a delivery
 * ledger so that no recipient is notified twice for the same run.
 */
export class ScheduledNotifier<R extends Recipient = Recipient> extends pulumi.ComponentResource {
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
  /** The secret this component created; undefined when `apiTokenSecretArn` was given. */
  readonly secret?: aws.secretsmanager.Secret;
  readonly alarms: aws.cloudwatch.MetricAlarm[];

  readonly scheduleArn: pulumi.Output<string>;
  readonly jobsQueueUrl: pulumi.Output<string>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly failedRunsQueueUrl: pulumi.Output<string>;
  /** The ARN of the secret the consumer reads the token from. */
  readonly secretArn: pulumi.Output<string>;
  readonly ledgerBucketName: pulumi.Output<string>;

  constructor(name: string, args: ScheduledNotifierArgs<R>, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:aws:ScheduledNotifier", name, {}, opts);
    validateScheduledNotifierArgs(name, args);
    const owner = ownerLabel("ScheduledNotifier", name);
    const n = normalize(args);
    const transform = args.transform ?? {};
    const parent = { parent: this };

    // Queues: the failed-runs queue, the jobs dead-letter queue, the jobs queue.
    this.failedRunsQueue = new aws.sqs.Queue(
      `${name}-failed-runs`,
      applyTransform(transform.failedRunsQueue, deadLetterQueueArgs()),
      parent,
    );
    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-dead-letters`,
      applyTransform(transform.deadLetterQueue, deadLetterQueueArgs()),
      parent,
    );
    this.jobsQueue = new aws.sqs.Queue(
      `${name}-jobs`,
      applyTransform(transform.jobsQueue, {
        ...SQS_MANAGED_ENCRYPTION,
        visibilityTimeoutSeconds: n.consumerTimeoutSeconds * 6,
        messageRetentionSeconds: n.messageRetentionDays * DAY_SECONDS,
        redrivePolicy: pulumi.jsonStringify({
          deadLetterTargetArn: this.deadLetterQueue.arn,
          maxReceiveCount: n.maxReceiveCount,
        }),
      }),
      parent,
    );
    new aws.sqs.RedriveAllowPolicy(
      `${name}-dead-letters-redrive-allow`,
      {
        queueUrl: this.deadLetterQueue.url,
        redriveAllowPolicy: pulumi.jsonStringify({
          redrivePermission: "byQueue",
          sourceQueueArns: [this.jobsQueue.arn],
        }),
      },
      parent,
    );
    for (const [suffix, queue] of [
      ["failed-runs", this.failedRunsQueue],
      ["dead-letters", this.deadLetterQueue],
      ["jobs", this.jobsQueue],
    ] as const) {
      new aws.sqs.QueuePolicy(
        `${name}-${suffix}-policy`,
        {
          queueUrl: queue.url,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [denyInsecureTransport([queue.arn], "sqs:*")],
          }),
        },
        parent,
      );
    }

    // The API token.
    if (args.apiToken !== undefined) {
      this.secret = new aws.secretsmanager.Secret(
        `${name}-api-token`,
        applyTransform(transform.secret, {
          description: `${owner}: the third-party API token its consumer reads at run time`,
          kmsKeyId: args.secretKmsKeyArn,
        }),
        parent,
      );
      new aws.secretsmanager.SecretVersion(
        `${name}-api-token-value`,
        { secretId: this.secret.id, secretString: pulumi.secret(args.apiToken) },
        parent,
      );
    }
    this.secretArn = this.secret ? this.secret.arn : pulumi.output(args.apiTokenSecretArn!);

    // The delivery ledger. A bucket's id is its name.
    this.ledgerBucket = this.createLedgerBucket(name, n, transform.ledgerBucket);
    this.ledgerBucketName = this.ledgerBucket.id;

    // The functions.
    const entries = notifierEntries(args);
    const settings = args.settings ?? {};
    const sharedEnvironment = {
      ...settings,
      [NOTIFIER_ENV.jobsQueueUrl]: this.jobsQueue.url,
      [NOTIFIER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.url,
    };
    this.producer = new LambdaFunction(
      `${name}-producer`,
      {
        ...functionSettings(args.producer),
        owner,
        entry: entries.producer,
        callbacks: { recipients: args.recipients as RecipientsCallback },
        timeoutSeconds: n.producerTimeoutSeconds,
        environment: sharedEnvironment,
        policyStatements: [
          { Sid: "SendJobs", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [this.jobsQueue.arn] },
          {
            Sid: "DeadLetterRejectedRecipients",
            Effect: "Allow",
            Action: ["sqs:SendMessage"],
            Resource: [this.deadLetterQueue.arn],
          },
          {
            // Lambda delivers a run's final failure to the failed-runs queue with the function's role.
            Sid: "ReportFailedRuns",
            Effect: "Allow",
            Action: ["sqs:SendMessage"],
            Resource: [this.failedRunsQueue.arn],
          },
        ] as pulumi.Input<aws.iam.PolicyStatement[]>,
      },
      parent,
    );

    this.consumer = new LambdaFunction(
      `${name}-consumer`,
      {
        ...functionSettings(args.consumer),
        reservedConcurrency: args.consumer?.reservedConcurrency,
        owner,
        entry: entries.consumer,
        callbacks: { send: args.send as SendCallback },
        timeoutSeconds: n.consumerTimeoutSeconds,
        environment: {
          ...sharedEnvironment,
          [NOTIFIER_ENV.secretArn]: this.secretArn,
          [NOTIFIER_ENV.ledgerBucket]: this.ledgerBucketName,
        },
        policyStatements: pulumi
          .all([
            this.jobsQueue.arn,
            this.deadLetterQueue.arn,
            this.ledgerBucket.arn,
            this.secretArn,
            args.secretKmsKeyArn,
          ])
          .apply(([jobsQueueArn, deadLetterQueueArn, ledgerBucketArn, secretArn, secretKmsKeyArn]) =>
            consumerPolicyStatements({ jobsQueueArn, deadLetterQueueArn, ledgerBucketArn, secretArn, secretKmsKeyArn }),
          ),
      },
      parent,
    );

    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-producer-async`,
      {
        functionName: this.producer.name,
        maximumRetryAttempts: n.producerRetryAttempts,
        maximumEventAgeInSeconds: n.producerMaximumEventAgeSeconds,
        destinationConfig: { onFailure: { destination: this.failedRunsQueue.arn } },
      },
      parent,
    );

    this.eventSourceMapping = new aws.lambda.EventSourceMapping(
      `${name}-jobs-mapping`,
      applyTransform(transform.eventSourceMapping, {
        eventSourceArn: this.jobsQueue.arn,
        functionName: this.consumer.arn,
        batchSize: n.batchSize,
        scalingConfig: { maximumConcurrency: n.maxConcurrency },
        functionResponseTypes: ["ReportBatchItemFailures"],
      }),
      parent,
    );

    // The schedule.
    this.schedulerRole = new aws.iam.Role(
      `${name}-scheduler-role`,
      applyTransform(transform.schedulerRole, {
        assumeRolePolicy: this.producer.arn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { Service: "scheduler.amazonaws.com" },
                Action: "sts:AssumeRole",
                // Only schedules of this account may use the role (confused-deputy protection).
                Condition: { StringEquals: { "aws:SourceAccount": arnParts(arn).account } },
              },
            ],
          }),
        ),
      }),
      parent,
    );
    const schedulerPolicy = new aws.iam.RolePolicy(
      `${name}-scheduler-policy`,
      {
        role: this.schedulerRole.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "InvokeProducer",
              Effect: "Allow",
              Action: ["lambda:InvokeFunction"],
              Resource: [this.producer.arn],
            },
            {
              // Scheduler delivers its dead-letter events with the schedule's role.
              Sid: "ReportFailedRuns",
              Effect: "Allow",
              Action: ["sqs:SendMessage"],
              Resource: [this.failedRunsQueue.arn],
            },
          ],
        }),
      },
      parent,
    );
    this.schedule = new aws.scheduler.Schedule(
      `${name}-schedule`,
      applyTransform(transform.schedule, {
        description: `${owner}: starts a notification run`,
        scheduleExpression: args.schedule,
        scheduleExpressionTimezone: n.timezone,
        state: args.enabled === false ? "DISABLED" : "ENABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: this.producer.arn,
          roleArn: this.schedulerRole.arn,
          input: JSON.stringify(SCHEDULE_TARGET_INPUT),
          retryPolicy: {
            maximumRetryAttempts: n.scheduleMaximumRetryAttempts,
            maximumEventAgeInSeconds: n.scheduleMaximumEventAgeSeconds,
          },
          deadLetterConfig: { arn: this.failedRunsQueue.arn },
        },
      }),
      { parent: this, dependsOn: [schedulerPolicy] },
    );

    // Alarms: anything in a dead-letter queue needs a human.
    const watched: [string, aws.sqs.Queue, string][] = [
      ["dead-letters", this.deadLetterQueue, "jobs could not be delivered"],
      ["failed-runs", this.failedRunsQueue, "runs failed to start or to enqueue their recipients"],
    ];
    this.alarms = watched.map(
      ([suffix, queue, what]) =>
        new aws.cloudwatch.MetricAlarm(
          `${name}-${suffix}-alarm`,
          applyTransform(
            transform.alarm,
            deadLetterDepthAlarmArgs({
              queueName: queue.name,
              alarmDescription: `${owner}: ${what}; see the messages' reasons in the queue.`,
              alarmActions: args.alarmActions,
            }),
          ),
          parent,
        ),
    );

    this.scheduleArn = this.schedule.arn;
    this.jobsQueueUrl = this.jobsQueue.url;
    this.deadLetterQueueUrl = this.deadLetterQueue.url;
    this.failedRunsQueueUrl = this.failedRunsQueue.url;
    this.registerOutputs({
      scheduleArn: this.scheduleArn,
      jobsQueueUrl: this.jobsQueueUrl,
      deadLetterQueueUrl: this.deadLetterQueueUrl,
      failedRunsQueueUrl: this.failedRunsQueueUrl,
      secretArn: this.secretArn,
      ledgerBucketName: this.ledgerBucketName,
    });
  }

  /** A private, encrypted, TLS-only bucket whose ledger records expire after `ledgerRetentionDays`. */
  private createLedgerBucket(
    name: string,
    n: Normalized,
    transform: Transform<aws.s3.BucketArgs> | undefined,
  ): aws.s3.Bucket {
    const parent = { parent: this };
    const bucket = new aws.s3.Bucket(`${name}-ledger`, applyTransform(transform, {}), parent);
    new aws.s3.BucketPublicAccessBlock(
      `${name}-ledger-public-access`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ledger-ownership`,
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-ledger-encryption`,
      { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-ledger-expiry`,
      {
        bucket: bucket.id,
        rules: [
          {
            id: "expire-ledger-records",
            status: "Enabled",
            filter: { prefix: LEDGER_PREFIX },
            expiration: { days: n.ledgerRetentionDays },
          },
        ],
      },
      parent,
    );
    new aws.s3.BucketPolicy(
      `${name}-ledger-policy`,
      {
        bucket: bucket.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [denyInsecureTransport([bucket.arn, pulumi.interpolate`${bucket.arn}/*`], "s3:*")],
        }),
      },
      parent,
    );
    return bucket;
  }
}
