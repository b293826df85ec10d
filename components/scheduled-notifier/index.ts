/**
 * ScheduledNotifier (AWS): a schedule-driven, queue-based notification service.
 *
 * EventBridge Scheduler invokes a producer Lambda that streams the inline `recipients` callback into
 * an SQS jobs queue, one job per (recipient, run); a consumer Lambda, rate-limited by the event
 * source mapping's maximum concurrency, calls the inline `send` callback for each job. The API
 * token lives in Secrets Manager (read at run time, cached); non-secret settings are function
 * configuration. A delivery ledger (S3 conditional writes) makes a retried run notify nobody twice.
 */
import { runtimeFactory } from "../core/runtime-factory";
import type * as runtime from "../../runtime/scheduled-notifier";
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
} from "../../runtime/scheduled-notifier/contract";
import { isIanaTimeZone } from "../../runtime/shared/time-zone";
import { runtimeEntry } from "../core/artifact";
import { denyInsecureTransport } from "../aws/secure-defaults";
import { PatternComponent, whenReported } from "../core/component";
import { checkExisting, type CreateOrUse, usesExisting } from "../core/existing";
import {
  LAMBDA_FUNCTION_NAMES,
  LambdaFunction,
  type LambdaFunctionSettings,
  type LambdaFunctionTransform,
  checkLambdaEnvironmentKeys,
  checkSqsEventSourceMapping,
  validateLambdaFunctionArgs,
} from "../aws/lambda-function";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { failureQueue, secureQueue } from "../aws/secure-queue";
import { applyTransform, type Transform } from "../core/transform";
import { arnParts, checkAlarmActionArns, isCompleteSecretArn, isSecretsManagerSecretArn } from "../aws/arn";
import { scheduleExpressionProblem } from "../aws/schedule-expression";
import { ArgumentChecker, ownerLabel, refuseSecretValues } from "../core/validation";

const runtimes = runtimeFactory<typeof runtime>(require.resolve("../../runtime/scheduled-notifier"));

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
   * secrets go in `apiToken`, never here.
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

/** Arguments with their defaults applied. */
interface Normalized {
  timeZone: string;
  maxConcurrency: number;
  batchSize: number;
  maxDeliveryCount: number;
  messageRetentionSeconds: number;
  ledgerRetentionDays: number;
  secretCacheSeconds: number;
  producerTimeoutSeconds: number;
  consumerTimeoutSeconds: number;
  runRetry: Required<ScheduledNotifierRetry>;
  scheduleRetry: Required<ScheduledNotifierRetry>;
}

function withDefaults(args: Partial<ScheduledNotifierArgs<any>>): Normalized {
  return {
    timeZone: args.timeZone ?? "UTC",
    maxConcurrency: args.maxConcurrency ?? 2,
    batchSize: args.batchSize ?? 10,
    maxDeliveryCount: args.maxDeliveryCount ?? 10,
    messageRetentionSeconds: args.messageRetentionSeconds ?? 345_600,
    ledgerRetentionDays: args.ledgerRetentionDays ?? 14,
    secretCacheSeconds: args.secretCacheSeconds ?? 300,
    producerTimeoutSeconds: args.functions?.producer?.timeoutSeconds ?? 300,
    consumerTimeoutSeconds: args.functions?.consumer?.timeoutSeconds ?? 30,
    runRetry: {
      maximumRetryAttempts: args.runRetry?.maximumRetryAttempts ?? 2,
      maximumEventAgeSeconds: args.runRetry?.maximumEventAgeSeconds ?? 3600,
    },
    scheduleRetry: {
      maximumRetryAttempts: args.scheduleRetry?.maximumRetryAttempts ?? 185,
      maximumEventAgeSeconds: args.scheduleRetry?.maximumEventAgeSeconds ?? 3600,
    },
  };
}

/** The runtime modules the two functions start from, with the consumer's plain options. */
export function notifierEntries(args: Pick<ScheduledNotifierArgs, "maxDeliveryCount" | "secretCacheSeconds">) {
  const n = withDefaults(args);
  return {
    producer: runtimeEntry(runtimes("createProducer"), {}),
    consumer: runtimeEntry(runtimes("createConsumer"), {
      maxReceiveCount: n.maxDeliveryCount,
      secretCacheSeconds: n.secretCacheSeconds,
    }),
  };
}

const DAY_SECONDS = 86_400;
/** Lambda's 4 KB environment, less what the notifier's own variables (queue URLs, ARNs) need. */
const MAX_ENVIRONMENT_BYTES = 3072;

const ENV_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** The physical names a notifier derives from its name. */
const SCHEDULED_NOTIFIER_NAMES: readonly DerivedName[] = [
  ...prefixed("-producer", LAMBDA_FUNCTION_NAMES),
  ...prefixed("-consumer", LAMBDA_FUNCTION_NAMES),
  derived("<name>-scheduler-role", NAME_RULES.iamRole),
  derived("<name>-schedule", NAME_RULES.schedule),
  derived("<name>-jobs", NAME_RULES.sqsQueue),
  derived("<name>-failed-runs", NAME_RULES.sqsQueue),
  derived("<name>-dead-letters", NAME_RULES.sqsQueue),
  derived("<name>-ledger", NAME_RULES.s3Bucket),
];

/** Checks every argument; returns all problems, for the component to throw before it registers anything. */
export function validateScheduledNotifierArgs(name: string, args: ScheduledNotifierArgs<any>): ArgumentChecker {
  const owner = ownerLabel("ScheduledNotifier", name);
  const n = withDefaults(args);
  const checker = new ArgumentChecker(owner);
  checkDerivedNames(checker, "ScheduledNotifier", name, SCHEDULED_NOTIFIER_NAMES);

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
    isIanaTimeZone(n.timeZone),
    "timeZone",
    n.timeZone,
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
    .integerInRange("maxDeliveryCount", n.maxDeliveryCount, 1, 1000, "an SQS redrive policy allows")
    .integerInRange("messageRetentionSeconds", n.messageRetentionSeconds, 60, 1_209_600, "SQS allows")
    .integerInRange("ledgerRetentionDays", n.ledgerRetentionDays, 1, 3650, "the notifier allows")
    .integerInRange("secretCacheSeconds", n.secretCacheSeconds, 0, 3600, "the notifier allows");
  for (const [argument, retry, service, maximumRetryAttempts, maximumEventAgeSeconds] of [
    ["runRetry", n.runRetry, "Lambda asynchronous invocation allows", 2, 21_600],
    ["scheduleRetry", n.scheduleRetry, "EventBridge Scheduler allows", 185, 86_400],
  ] as const) {
    checker
      .integerInRange(`${argument}.maximumRetryAttempts`, retry.maximumRetryAttempts, 0, maximumRetryAttempts, service)
      .integerInRange(
        `${argument}.maximumEventAgeSeconds`,
        retry.maximumEventAgeSeconds,
        60,
        maximumEventAgeSeconds,
        service,
      );
  }

  const minimumLedgerDays = Math.ceil(n.messageRetentionSeconds / DAY_SECONDS) + 2;
  checker.check(
    !Number.isInteger(n.ledgerRetentionDays) || n.ledgerRetentionDays >= minimumLedgerDays,
    "ledgerRetentionDays",
    n.ledgerRetentionDays,
    `is too short: the ledger must outlive every job that can still arrive (messageRetentionSeconds ${n.messageRetentionSeconds}, ` +
      `plus up to a day of run retries and a day of margin); use at least ${minimumLedgerDays}.`,
  );

  for (const role of ["producer", "consumer"] as const) {
    checker.include(validateLambdaFunctionArgs(owner, args.functions?.[role] ?? {}, `functions.${role}.`));
  }
  const reserved = args.functions?.consumer?.reservedConcurrency;
  checker.check(
    reserved === undefined || reserved >= n.maxConcurrency,
    "functions.consumer.reservedConcurrency",
    reserved,
    `is below maxConcurrency ${n.maxConcurrency}; Lambda would throttle the event source and jobs could be dead-lettered. ` +
      "Reserve at least maxConcurrency, or leave it unset.",
  );

  checkApiToken(checker, args.apiToken);
  checkEnvironment(checker, args.environment);
  checkAlarmActionArns(checker, args.alarmActions);
  return checker;
}

/** The token's secret: `value` creates one, `existing` names one, never both; `kmsKeyArn` applies to either. */
function checkApiToken(checker: ArgumentChecker, apiToken: ScheduledNotifierArgs["apiToken"] | undefined): void {
  const existing = usesExisting(apiToken) ? apiToken.existing : undefined;
  const value = (apiToken as { value?: pulumi.Input<string> } | undefined)?.value;
  const existingShown = typeof existing === "string" ? existing : "(an Output)";
  checker.check(
    value !== undefined || existing !== undefined,
    "apiToken.value",
    value,
    "is required unless apiToken.existing names an existing secret; pass it as a Pulumi secret (config.requireSecret).",
  );
  checker.check(
    value === undefined || existing === undefined,
    "apiToken.existing",
    existingShown,
    "cannot be combined with apiToken.value; give one of them.",
  );
  // `value` is left out: checkExisting quotes what it rejects, and this value is the token.
  const { value: _token, ...settings } = (apiToken ?? {}) as { value?: unknown };
  checkExisting(checker, "apiToken", settings, "secret", ["kmsKeyArn"]);
  if (typeof existing === "string") {
    checker.check(
      isSecretsManagerSecretArn(existing),
      "apiToken.existing",
      existing,
      'is not a Secrets Manager secret ARN ("arn:aws:secretsmanager:<region>:<account>:secret:<name>").',
    );
  }
}

/**
 * The environment's names, values and size, as far as they are known at construction: a value or
 * the whole map given as an Output is checked by Lambda at deployment instead.
 */
function checkEnvironment(checker: ArgumentChecker, environment: ScheduledNotifierArgs["environment"]): void {
  if (environment === undefined || !isKnown(environment)) return;
  checkLambdaEnvironmentKeys(checker, environment);
  let bytes = 0;
  for (const [key, value] of Object.entries(environment)) {
    const ownPrefix = key.startsWith(NOTIFIER_ENV_PREFIX);
    checker.check(
      ENV_NAME.test(key) && !ownPrefix,
      `environment.${key}`,
      value,
      ownPrefix
        ? `uses the reserved prefix ${NOTIFIER_ENV_PREFIX}; choose another name.`
        : "has a name that is not an environment variable name; use letters, digits and _, starting with a letter.",
    );
    const known = isKnown(value);
    checker.check(
      !known || typeof value === "string",
      `environment.${key}`,
      value,
      "must be a plain string; secrets go in apiToken, never in environment.",
    );
    bytes += Buffer.byteLength(key) + (known ? Buffer.byteLength(String(value)) : 0);
  }
  checker.check(
    bytes <= MAX_ENVIRONMENT_BYTES,
    "environment",
    bytes,
    `bytes in total exceed ${MAX_ENVIRONMENT_BYTES}: Lambda allows 4 KB of environment and the notifier needs about 1 KB; ` +
      "put large values in the secret or fetch them at run time.",
  );
}

/** Whether an input is a value now, rather than an Output or a Promise of one. */
function isKnown<T>(input: pulumi.Input<T>): input is T {
  return !pulumi.Output.isInstance(input) && !(input instanceof Promise);
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
    super("aws", "ScheduledNotifier", name, validateScheduledNotifierArgs(name, args), opts);
    const n = withDefaults(args);
    const transform = args.transform ?? {};
    const functions = args.functions ?? {};

    // Queues: the failed-runs queue, the jobs dead-letter queue, the jobs queue. Scheduler and Lambda
    // deliver failed runs with roles, so no queue lets a service in by its policy.
    const failedRuns = failureQueue(
      `${name}-failed-runs`,
      {
        alarmDescription: `${this.owner}: runs failed to start or to enqueue their recipients; see the messages' reasons in the queue.`,
        alarmActions: args.alarmActions,
        transform: { queue: transform.failedRunsQueue, alarm: transform.alarm },
      },
      this.child,
    );
    const deadLetters = failureQueue(
      `${name}-dead-letters`,
      {
        alarmDescription: `${this.owner}: jobs could not be delivered; see the messages' reasons in the queue.`,
        alarmActions: args.alarmActions,
        transform: { queue: transform.deadLetterQueue, alarm: transform.alarm },
      },
      this.child,
    );
    this.failedRunsQueue = failedRuns.queue;
    this.deadLetterQueue = deadLetters.queue;
    this.alarms = [deadLetters.alarm, failedRuns.alarm];
    this.jobsQueue = secureQueue(
      `${name}-jobs`,
      {
        queue: {
          visibilityTimeoutSeconds: n.consumerTimeoutSeconds * 6,
          messageRetentionSeconds: n.messageRetentionSeconds,
          redrivePolicy: pulumi.jsonStringify({
            deadLetterTargetArn: this.deadLetterQueue.arn,
            maxReceiveCount: n.maxDeliveryCount,
          }),
        },
        transform: { queue: transform.jobsQueue },
      },
      this.child,
    ).queue;
    new aws.sqs.RedriveAllowPolicy(
      `${name}-dead-letters-redrive-allow`,
      {
        queueUrl: this.deadLetterQueue.url,
        redriveAllowPolicy: pulumi.jsonStringify({
          redrivePermission: "byQueue",
          sourceQueueArns: [this.jobsQueue.arn],
        }),
      },
      this.child,
    );

    // The API token.
    if (usesExisting(args.apiToken)) {
      this.secretArn = pulumi.output(args.apiToken.existing);
    } else {
      this.secret = new aws.secretsmanager.Secret(
        `${name}-api-token`,
        applyTransform(transform.secret, {
          description: `${this.owner}: the third-party API token its consumer reads at run time`,
          kmsKeyId: args.apiToken.kmsKeyArn,
        }),
        this.child,
      );
      new aws.secretsmanager.SecretVersion(
        `${name}-api-token-value`,
        { secretId: this.secret.id, secretString: pulumi.secret(args.apiToken.value) },
        this.child,
      );
      this.secretArn = this.secret.arn;
    }

    // The delivery ledger. A bucket's id is its name.
    this.ledgerBucket = this.createLedgerBucket(name, n, transform.ledgerBucket);
    this.ledgerBucketName = this.ledgerBucket.id;

    // The functions.
    const entries = notifierEntries(args);
    const queueUrls = {
      [NOTIFIER_ENV.jobsQueueUrl]: this.jobsQueue.url,
      [NOTIFIER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.url,
    };
    // The notifier's own variables stay Outputs of their own, so a preview shows the given ones.
    const nonSecretEnvironment = refuseSecretValues(
      this.owner,
      "environment",
      args.environment ?? {},
      "environment variables are plain text in the functions' configuration. Pass the API token as apiToken; " +
        "store any other secret in Secrets Manager, grant secretsmanager:GetSecretValue on it with " +
        "functions.<producer|consumer>.permissions and read it at run time.",
    );
    const environment = (own: Record<string, pulumi.Input<string>>) =>
      nonSecretEnvironment.apply((given) => ({ ...given, ...own }));
    this.producer = new LambdaFunction(
      `${name}-producer`,
      {
        ...functions.producer,
        owner: this.owner,
        entry: entries.producer,
        callbacks: { recipients: args.recipients as RecipientsCallback },
        timeoutSeconds: n.producerTimeoutSeconds,
        environment: environment(queueUrls),
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
        transform: transform.producer,
      },
      this.child,
    );

    this.consumer = new LambdaFunction(
      `${name}-consumer`,
      {
        ...functions.consumer,
        owner: this.owner,
        entry: entries.consumer,
        callbacks: { send: args.send as SendCallback },
        timeoutSeconds: n.consumerTimeoutSeconds,
        environment: environment({
          ...queueUrls,
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
        transform: transform.consumer,
      },
      this.child,
    );

    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-producer-async`,
      {
        functionName: this.producer.name,
        maximumRetryAttempts: n.runRetry.maximumRetryAttempts,
        maximumEventAgeInSeconds: n.runRetry.maximumEventAgeSeconds,
        destinationConfig: { onFailure: { destination: this.failedRunsQueue.arn } },
      },
      this.child,
    );

    const mappingArgs = applyTransform(transform.eventSourceMapping, {
      eventSourceArn: this.jobsQueue.arn,
      functionName: this.consumer.arn,
      batchSize: n.batchSize,
      scalingConfig: { maximumConcurrency: n.maxConcurrency },
      functionResponseTypes: ["ReportBatchItemFailures"],
    });
    checkSqsEventSourceMapping(this.owner, mappingArgs);
    this.eventSourceMapping = new aws.lambda.EventSourceMapping(`${name}-jobs-mapping`, mappingArgs, this.child);

    // The schedule.
    this.schedulerRole = new aws.iam.Role(
      `${name}-scheduler-role`,
      applyTransform(transform.schedulerRole, {
        assumeRolePolicy: this.producer.arn.apply((producerArn) =>
          whenReported([producerArn], (arn) =>
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
        ),
      }),
      this.child,
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
      this.child,
    );
    this.schedule = new aws.scheduler.Schedule(
      `${name}-schedule`,
      applyTransform(transform.schedule, {
        description: `${this.owner}: starts a notification run`,
        scheduleExpression: args.schedule,
        scheduleExpressionTimezone: n.timeZone,
        state: args.scheduleEnabled === false ? "DISABLED" : "ENABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: this.producer.arn,
          roleArn: this.schedulerRole.arn,
          input: JSON.stringify(SCHEDULE_TARGET_INPUT),
          retryPolicy: {
            maximumRetryAttempts: n.scheduleRetry.maximumRetryAttempts,
            maximumEventAgeInSeconds: n.scheduleRetry.maximumEventAgeSeconds,
          },
          deadLetterConfig: { arn: this.failedRunsQueue.arn },
        },
      }),
      { ...this.child, dependsOn: [schedulerPolicy] },
    );

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

  /** A private, encrypted, TLS-only bucket whose ledger records expire after `ledgerRetentionDays`. */
  private createLedgerBucket(
    name: string,
    n: Normalized,
    transform: Transform<aws.s3.BucketArgs> | undefined,
  ): aws.s3.Bucket {
    const bucket = new aws.s3.Bucket(`${name}-ledger`, applyTransform(transform, {}), this.child);
    new aws.s3.BucketPublicAccessBlock(
      `${name}-ledger-public-access`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      this.child,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ledger-ownership`,
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      this.child,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-ledger-encryption`,
      { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
      this.child,
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
      this.child,
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
      this.child,
    );
    return bucket;
  }
}
