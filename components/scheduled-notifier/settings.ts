/**
 * A ScheduledNotifier's arguments with their defaults applied, and every problem with them, in one
 * pass: the component throws all problems at once before it registers anything.
 */
import * as pulumi from "@pulumi/pulumi";
import { NOTIFIER_ENV_PREFIX } from "../../runtime/scheduled-notifier/contract";
import { isIanaTimeZone } from "../../runtime/shared/time-zone";
import { checkAlarmActionArns, isSecretsManagerSecretArn } from "../aws/arn";
import { LAMBDA_FUNCTION_NAMES, validateLambdaFunctionArgs } from "../aws/lambda-function";
import { checkLambdaEnvironmentKeys } from "../aws/lambda-environment";
import { scheduleExpressionProblem } from "../aws/schedule-expression";
import { checkExisting, usesExisting } from "../core/existing";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { ArgumentChecker, ownerLabel, type Settled } from "../core/validation";
import { SCHEDULED_NOTIFIER_DEFAULTS, type ScheduledNotifierArgs, type ScheduledNotifierRetry } from "./args";

/** The arguments the component reads as numbers and flags, with their defaults applied. */
export interface ScheduledNotifierSettings {
  timeZone: string;
  scheduleEnabled: boolean;
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

const DAY_SECONDS = 86_400;
/** Lambda's 4 KB environment, less what the notifier's own variables (queue URLs, ARNs) need. */
const MAX_ENVIRONMENT_BYTES = 3072;

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

/** Applies the defaults and checks every argument. */
export function scheduledNotifierSettings(
  name: string,
  args: ScheduledNotifierArgs<any>,
): Settled<ScheduledNotifierSettings> {
  const defaults = SCHEDULED_NOTIFIER_DEFAULTS;
  const settings: ScheduledNotifierSettings = {
    timeZone: args.timeZone ?? defaults.timeZone,
    scheduleEnabled: args.scheduleEnabled ?? defaults.scheduleEnabled,
    maxConcurrency: args.maxConcurrency ?? defaults.maxConcurrency,
    batchSize: args.batchSize ?? defaults.batchSize,
    maxDeliveryCount: args.maxDeliveryCount ?? defaults.maxDeliveryCount,
    messageRetentionSeconds: args.messageRetentionSeconds ?? defaults.messageRetentionSeconds,
    ledgerRetentionDays: args.ledgerRetentionDays ?? defaults.ledgerRetentionDays,
    secretCacheSeconds: args.secretCacheSeconds ?? defaults.secretCacheSeconds,
    producerTimeoutSeconds: args.functions?.producer?.timeoutSeconds ?? defaults.producerTimeoutSeconds,
    consumerTimeoutSeconds: args.functions?.consumer?.timeoutSeconds ?? defaults.consumerTimeoutSeconds,
    runRetry: {
      maximumRetryAttempts: args.runRetry?.maximumRetryAttempts ?? defaults.runRetry.maximumRetryAttempts,
      maximumEventAgeSeconds: args.runRetry?.maximumEventAgeSeconds ?? defaults.runRetry.maximumEventAgeSeconds,
    },
    scheduleRetry: {
      maximumRetryAttempts: args.scheduleRetry?.maximumRetryAttempts ?? defaults.scheduleRetry.maximumRetryAttempts,
      maximumEventAgeSeconds:
        args.scheduleRetry?.maximumEventAgeSeconds ?? defaults.scheduleRetry.maximumEventAgeSeconds,
    },
  };

  const owner = ownerLabel("ScheduledNotifier", name);
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
    isIanaTimeZone(settings.timeZone),
    "timeZone",
    settings.timeZone,
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
    .integerInRange("maxConcurrency", settings.maxConcurrency, 2, 1000, "Lambda's SQS maximum concurrency allows")
    .integerInRange("batchSize", settings.batchSize, 1, 10, "the notifier sends a batch's jobs one by one and allows")
    .integerInRange("maxDeliveryCount", settings.maxDeliveryCount, 1, 1000, "an SQS redrive policy allows")
    .integerInRange("messageRetentionSeconds", settings.messageRetentionSeconds, 60, 1_209_600, "SQS allows")
    .integerInRange("ledgerRetentionDays", settings.ledgerRetentionDays, 1, 3650, "the notifier allows")
    .integerInRange("secretCacheSeconds", settings.secretCacheSeconds, 0, 3600, "the notifier allows");
  for (const [argument, retry, service, maximumRetryAttempts, maximumEventAgeSeconds] of [
    ["runRetry", settings.runRetry, "Lambda asynchronous invocation allows", 2, 21_600],
    ["scheduleRetry", settings.scheduleRetry, "EventBridge Scheduler allows", 185, 86_400],
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

  const minimumLedgerDays = Math.ceil(settings.messageRetentionSeconds / DAY_SECONDS) + 2;
  checker.check(
    !Number.isInteger(settings.ledgerRetentionDays) || settings.ledgerRetentionDays >= minimumLedgerDays,
    "ledgerRetentionDays",
    settings.ledgerRetentionDays,
    `is too short: the ledger must outlive every job that can still arrive (messageRetentionSeconds ${settings.messageRetentionSeconds}, ` +
      `plus up to a day of run retries and a day of margin); use at least ${minimumLedgerDays}.`,
  );

  for (const role of ["producer", "consumer"] as const) {
    checker.include(validateLambdaFunctionArgs(owner, args.functions?.[role] ?? {}, `functions.${role}.`));
  }
  const reserved = args.functions?.consumer?.reservedConcurrency;
  checker.check(
    reserved === undefined || reserved >= settings.maxConcurrency,
    "functions.consumer.reservedConcurrency",
    reserved,
    `is below maxConcurrency ${settings.maxConcurrency}; Lambda would throttle the event source and jobs could be dead-lettered. ` +
      "Reserve at least maxConcurrency, or leave it unset.",
  );

  checkApiToken(checker, args.apiToken);
  checkEnvironment(checker, args.environment);
  checkAlarmActionArns(checker, args.alarmActions);
  return { settings, problems: checker };
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
  const { value: _token, ...secretSettings } = (apiToken ?? {}) as { value?: unknown };
  checkExisting(checker, "apiToken", secretSettings, "secret", ["kmsKeyArn"]);
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
 * the whole map given as an Output is checked by Lambda at deployment instead. The keys Lambda
 * reserves are LambdaFunction's check, the same for every AWS component.
 */
function checkEnvironment(checker: ArgumentChecker, environment: ScheduledNotifierArgs["environment"]): void {
  if (environment === undefined || !isKnown(environment)) return;
  checkLambdaEnvironmentKeys(checker, environment, { prefix: NOTIFIER_ENV_PREFIX });
  let bytes = 0;
  for (const [key, value] of Object.entries(environment)) {
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
