/**
 * DedupForwardingQueue: event-driven "batch" processing, one run per data set per period.
 *
 * Every observation of a data set schedules a Service Bus message for the end of its period, with
 * MessageId = SessionId = `<dataSetId>-<period>`, into a processing queue whose duplicate-detection
 * window covers the whole period: scheduled messages are deduplicated when they are sent, so only
 * the first observation's message survives. When it materializes, the processing queue forwards it
 * to the session-enabled work queue, where a Function App runs the inline `process` callback.
 * One processing queue per period length (`windows`), all forwarding to the one work queue.
 */
import { runtimeFactory } from "../core/runtime-factory";
import type * as runtime from "../../runtime/dedup-forwarding-queue";
import * as monitor from "@pulumi/azure-native/monitor";
import * as servicebus from "@pulumi/azure-native/servicebus";
import * as pulumi from "@pulumi/pulumi";
import { describeDuration, isoDuration, timeSpan } from "../../runtime/dedup-forwarding-queue/duration";
import {
  DAY_SECONDS,
  longestBackwardShiftSeconds,
  periodShapeProblem,
} from "../../runtime/dedup-forwarding-queue/period";
import { isIanaTimeZone } from "../../runtime/shared/time-zone";
import { type ProcessCallback, type ProcessorOptions } from "../../runtime/dedup-forwarding-queue/processor";
import type { ProcessingScheduleConfig } from "../../runtime/dedup-forwarding-queue/producer";
import { runtimeEntry } from "../core/artifact";
import { checkPrincipalId, grantRole, type RoleGrant } from "../azure/roles";
import { PatternComponent, whenReported } from "../core/component";
import { checkExisting, type CreateOrUse, usesExisting } from "../core/existing";
import {
  FUNCTION_APP_NAMES,
  FunctionApp,
  type FunctionAppSettings,
  type FunctionAppTransform,
  checkFunctionAppEnvironmentKeys,
  nonSecretAppSettings,
  validateFunctionAppArgs,
} from "../azure/function-app";
import { checkDerivedNames, type DerivedName, prefixed, stableNameOptions, uniqueSuffix } from "../core/naming";
import { applyTransform, type Transform } from "../core/transform";
import { ArgumentChecker, ownerLabel } from "../core/validation";
import { checkActionGroupIds, checkResourceGroupName } from "../azure/resource-id";

export type {
  ProcessCallback,
  ProcessingMessageInfo,
  ProcessingRun,
} from "../../runtime/dedup-forwarding-queue/processor";
export type { ProcessingScheduleConfig } from "../../runtime/dedup-forwarding-queue/producer";

const PROCESSOR = runtimeFactory<typeof runtime>(require.resolve("../../runtime/dedup-forwarding-queue"))(
  "createProcessor",
);

/** An identity allowed to schedule observations: an object id, or one with its principal type. */
export type ProducerPrincipal =
  pulumi.Input<string> | { principalId: pulumi.Input<string>; principalType: NonNullable<RoleGrant["principalType"]> };

/** The settings of the Service Bus namespace the component creates. */
export interface ServiceBusNamespaceSettings {
  /** The namespace's name (6..50 letters, digits, hyphens; globally unique). @default derived from the component name */
  name?: string;
  /** Its tier; Basic has neither duplicate detection nor auto-forwarding. @default "Standard" */
  tier?: "Standard" | "Premium";
  /** Messaging units of a Premium namespace (1, 2, 4, 8 or 16). @default 1 */
  messagingUnits?: number;
  /** Keep SAS (shared key) authentication on. @default false: Entra ID only */
  allowLocalAuth?: boolean;
}

/** An existing Standard or Premium namespace the component puts its queues in. */
export interface ExistingServiceBusNamespace {
  name: pulumi.Input<string>;
  /** @default the component's `resourceGroupName` */
  resourceGroupName?: pulumi.Input<string>;
}

export interface DedupForwardingQueueArgs {
  resourceGroupName: pulumi.Input<string>;
  /** @default the resource group's location */
  location?: pulumi.Input<string>;
  /**
   * The periods to deduplicate over, one processing queue each: their lengths in seconds, by name.
   * Under a day a length must divide 24 hours; from a day on it must be whole days, at most 7 days
   * (604800).
   * @example { daily: 86_400, twoHourly: 7_200 }
   */
  windows: Record<string, number>;
  /**
   * Runs once per data set and period. Returning completes the message; throwing abandons it, and
   * after `maxDeliveryCount` deliveries Service Bus dead-letters it.
   * @example async ({ dataSetId, period, periodStart, periodEnd }) => { await summarize(dataSetId, periodStart, periodEnd); }
   */
  process: ProcessCallback;
  /**
   * Non-secret settings `process` reads from `process.env`, as app settings. The component's own
   * setting (`ServiceBus__fullyQualifiedNamespace`) wins over one of the same name.
   * @example { REPORTS_URL: "https://reports.example.com" }
   */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The IANA time zone whose wall clock the periods follow (a day = the local calendar day). A
   * zone name, not a UTC offset such as "+01:00" (see runtime/shared/time-zone.ts); a fixed offset
   * is a name too ("Etc/GMT-1" is UTC+01:00).
   * @default "UTC"
   * @example "Europe/London"
   */
  timeZone?: string;
  /**
   * How long after the end of a period its run starts: slack for producers that report late.
   * @default 300
   */
  scheduleDelaySeconds?: number;
  /**
   * The Service Bus namespace: settings for the one the component creates, or `{ existing }` to use
   * a Standard or Premium namespace that exists.
   * @default a Standard namespace with Entra ID authentication only
   * @example { existing: { name: "shared-bus", resourceGroupName: "messaging" } }
   */
  namespace?: CreateOrUse<ServiceBusNamespaceSettings, ExistingServiceBusNamespace>;
  /** The work queue's duplicate-detection window, for accidental resends. @default 600 */
  workQueueDuplicateWindowSeconds?: number;
  /** Deliveries of a run before Service Bus dead-letters it. @default 10 */
  maxDeliveryCount?: number;
  /** How long a run may wait in the work queue before it expires into the dead-letter queue. @default 1209600 (14 days) */
  messageRetentionSeconds?: number;
  /** The work queue's peek-lock duration; the Functions host renews it while `process` runs. @default 60 */
  lockDurationSeconds?: number;
  /** Sessions (runs) one instance processes at once (host.json `maxConcurrentSessions`). @default 8 */
  maxConcurrentSessions?: number;
  /** How long the host waits for another message in a session before taking the next one. @default 10 */
  sessionIdleTimeoutSeconds?: number;
  /**
   * Identities allowed to schedule observations: "Azure Service Bus Data Sender" on every processing
   * queue, by a stable name (it names the role assignments). More can be added with `grantProducer`.
   * @example { ingest: ingestApp.principalId, analyst: { principalId: "<object id>", principalType: "User" } }
   */
  producerPrincipalIds?: Record<string, ProducerPrincipal>;
  /** Action group resource ids the alarm notifies when a queue of the component holds dead-lettered messages. */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Settings of the Function App that runs `process`, including `permissions`: the Azure roles
   * `process` needs on resources of its own, granted to the app's identity (see also
   * `functionPrincipalId`).
   * @example { permissions: { reports: { role: "Storage Blob Data Contributor", scope: reports.id } } }
   */
  function?: FunctionAppSettings;
  /** Escape hatches: change what the component did not foresee. */
  transform?: {
    namespace?: Transform<servicebus.NamespaceArgs>;
    workQueue?: Transform<servicebus.QueueArgs>;
    /** Called once per window with its name. */
    processingQueue?: (args: servicebus.QueueArgs, window: string) => servicebus.QueueArgs;
    alarm?: Transform<monitor.MetricAlertArgs>;
    function?: FunctionAppTransform;
  };
}

/**
 * What the component sets on its queues that `transform` may not change: azure-native replaces a
 * queue when one of them changes (provider/pkg/gen/replacement.go, forceNewMap; Service Bus cannot
 * change them on an existing queue), deleting it first as it does every explicitly named resource.
 */
const FIXED_QUEUE_PROPERTIES = {
  // One consumer per data set and period at a time: the SessionId is `<dataSetId>-<period>`.
  workQueue: { requiresSession: true, requiresDuplicateDetection: true, enablePartitioning: false },
  // A session-enabled queue cannot auto-forward; the SessionId still travels with the message.
  processingQueue: { requiresSession: false, requiresDuplicateDetection: true, enablePartitioning: false },
} as const;

/**
 * Runs the queue transforms on what the component sets and refuses a change to a fixed property:
 * on a deployed queue it would delete every queued and scheduled message and the duplicate-detection
 * history; on a processing queue `requiresSession: true` also stops auto-forwarding.
 */
function checkQueueTransforms(
  checker: ArgumentChecker,
  transform: DedupForwardingQueueArgs["transform"],
  windowNames: string[],
): void {
  const probes: [string, (args: servicebus.QueueArgs) => servicebus.QueueArgs, Readonly<Record<string, boolean>>][] =
    [];
  if (transform?.workQueue) {
    probes.push(["transform.workQueue", transform.workQueue, FIXED_QUEUE_PROPERTIES.workQueue]);
  }
  const processingQueue = transform?.processingQueue;
  if (processingQueue) {
    for (const window of windowNames) {
      probes.push([
        `transform.processingQueue (window ${JSON.stringify(window)})`,
        (args) => processingQueue(args, window),
        FIXED_QUEUE_PROPERTIES.processingQueue,
      ]);
    }
  }
  for (const [argument, apply, fixed] of probes) {
    const result = apply({ resourceGroupName: "", namespaceName: "", ...fixed }) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(fixed)) {
      if (result[key] === value || pulumi.Output.isInstance(result[key])) continue;
      const forwarding =
        key === "requiresSession" && argument.startsWith("transform.processingQueue")
          ? " A session-enabled processing queue cannot auto-forward to the work queue, either."
          : "";
      checker.check(
        false,
        argument,
        { [key]: result[key] },
        `would change ${key} from ${value}: Service Bus cannot change it on a queue, so the queue is deleted and recreated, losing every queued and scheduled message and the duplicate-detection history.${forwarding} Leave ${key} as the component sets it.`,
      );
    }
  }
}

/** The app setting prefix of the trigger's identity-based connection: `ServiceBus__fullyQualifiedNamespace`. */
export const SERVICE_BUS_CONNECTION = "ServiceBus";
/** The name of the function the Function App registers. */
export const PROCESSOR_FUNCTION_NAME = "process";

/** Service Bus duplicate detection: "between 20 seconds and 7 days". */
const MIN_DUPLICATE_WINDOW_SECONDS = 20;
const MAX_DUPLICATE_WINDOW_SECONDS = 7 * DAY_SECONDS;
/** .NET's TimeSpan.MaxValue in whole seconds: the longest time to live Service Bus takes (its "never"). */
const MAX_MESSAGE_RETENTION_SECONDS = 922_337_203_685;
const QUEUE_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/i;
const MAX_QUEUE_NAME_LENGTH = 260;
const NAMESPACE_NAME = /^[a-z][a-z0-9-]{4,48}[a-z0-9]$/i;
const PREMIUM_MESSAGING_UNITS = [1, 2, 4, 8, 16];

/** A window after validation: its queue, period and duplicate-detection window. */
export interface WindowSettings {
  name: string;
  queueName: string;
  periodSeconds: number;
  /** The longest period in real time (DST) plus the schedule delay. */
  duplicateWindowSeconds: number;
}

/** The arguments with every default applied and every window sized, in one place. */
export interface DedupForwardingQueueSettings {
  timeZone: string;
  scheduleDelaySeconds: number;
  workQueueName: string;
  windows: WindowSettings[];
  workQueueDuplicateWindowSeconds: number;
  maxDeliveryCount: number;
  messageRetentionSeconds: number;
  lockDurationSeconds: number;
  maxConcurrentSessions: number;
  sessionIdleTimeoutSeconds: number;
}

const DEFAULTS = {
  timeZone: "UTC",
  scheduleDelaySeconds: 300,
  workQueueDuplicateWindowSeconds: 600,
  maxDeliveryCount: 10,
  messageRetentionSeconds: 14 * DAY_SECONDS,
  lockDurationSeconds: 60,
  maxConcurrentSessions: 8,
  sessionIdleTimeoutSeconds: 10,
  namespace: { tier: "Standard", messagingUnits: 1, allowLocalAuth: false },
} as const;

/**
 * Queue names are case-insensitive in Service Bus; lowercase keeps what ARM reports equal to what
 * was declared. In an existing namespace, which other stacks of the program may share, the names
 * carry the project/stack suffix so each stack manages its own queues.
 */
function queueNames(
  name: string,
  windowNames: string[],
  sharedNamespace: boolean,
): { work: string; processing: Record<string, string> } {
  const prefix = sharedNamespace ? `${name}-${uniqueSuffix(`${name}-queues`)}` : name;
  return {
    work: `${prefix}-work`.toLowerCase(),
    processing: Object.fromEntries(
      windowNames.map((window) => [window, `${prefix}-processing-${window}`.toLowerCase()]),
    ),
  };
}

/** Records a problem unless `value` is whole seconds within [min, max]; returns whether it is. */
function secondsInRange(
  checker: ArgumentChecker,
  argument: string,
  value: number,
  min: number,
  max: number,
  rule: string,
): boolean {
  const before = checker.list().length;
  checker.integerInRange(argument, value, min, max, rule);
  return checker.list().length === before;
}

/** Checks every window; returns the valid ones with their period and duplicate-detection window. */
function checkWindows(
  checker: ArgumentChecker,
  windows: Record<string, number>,
  timeZone: string,
  scheduleDelaySeconds: number | undefined,
): Map<string, { periodSeconds: number; duplicateWindowSeconds: number }> {
  const periods = new Map<string, { periodSeconds: number; duplicateWindowSeconds: number }>();
  const dstSeconds = isIanaTimeZone(timeZone) ? longestBackwardShiftSeconds(timeZone) : 0;
  const seenQueueNames = new Map<string, string>();
  for (const [window, periodSeconds] of Object.entries(windows)) {
    const argument = `windows.${window}`;
    checker.check(
      QUEUE_NAME.test(window),
      "windows key",
      window,
      'cannot be part of a queue name; use letters, digits, ".", "-" or "_", starting and ending with a letter or digit.',
    );
    const lower = window.toLowerCase();
    const clash = seenQueueNames.get(lower);
    checker.check(
      clash === undefined,
      "windows key",
      window,
      `names the same queue as ${JSON.stringify(clash)}; Service Bus queue names are case-insensitive.`,
    );
    seenQueueNames.set(lower, window);

    const inRange = secondsInRange(
      checker,
      argument,
      periodSeconds,
      MIN_DUPLICATE_WINDOW_SECONDS,
      MAX_DUPLICATE_WINDOW_SECONDS,
      "Service Bus duplicate detection allows",
    );
    if (!inRange) continue;
    const shape = periodShapeProblem(periodSeconds);
    checker.check(shape === undefined, argument, periodSeconds, shape ?? "");
    if (shape !== undefined) continue;
    const twin = [...periods].find(([, other]) => other.periodSeconds === periodSeconds)?.[0];
    checker.check(
      twin === undefined,
      argument,
      periodSeconds,
      `has the same length as windows.${twin}; their messages would share ids in the work queue. Keep one of them.`,
    );
    // The first observation can come at the very start of a period and the last send just before
    // its run: the window must span the longest real-time period (DST) plus the delay.
    const needed = periodSeconds + dstSeconds + (scheduleDelaySeconds ?? 0);
    periods.set(window, { periodSeconds, duplicateWindowSeconds: needed });
    if (scheduleDelaySeconds === undefined || !isIanaTimeZone(timeZone)) continue;
    const parts = [
      "the period",
      ...(dstSeconds > 0 ? [`${describeDuration(dstSeconds)} for the clocks going back in ${timeZone}`] : []),
      `${describeDuration(scheduleDelaySeconds)} of scheduleDelaySeconds`,
    ];
    checker.check(
      needed <= MAX_DUPLICATE_WINDOW_SECONDS,
      argument,
      periodSeconds,
      `needs a duplicate-detection window of ${describeDuration(needed)} (${parts.join(" plus ")}); Service Bus allows at most 7 days. ` +
        `Use ${duplicateWindowFixes(periodSeconds, dstSeconds).join(", or ")}.`,
    );
  }
  return periods;
}

/** Checks `namespace`: creation settings Service Bus accepts, or `existing` with nothing beside it. */
function checkNamespace(checker: ArgumentChecker, namespace: DedupForwardingQueueArgs["namespace"]): void {
  if (usesExisting(namespace)) {
    checkExisting(checker, "namespace", namespace, "namespace");
    return;
  }
  const { name, tier, messagingUnits } = namespace ?? {};
  if (tier !== undefined) {
    const fix =
      (tier as string) === "Basic"
        ? 'is not supported; duplicate detection and auto-forwarding need "Standard" or "Premium".'
        : 'is not a Service Bus tier; use "Standard" or "Premium".';
    checker.check(tier === "Standard" || tier === "Premium", "namespace.tier", tier, fix);
  }
  if (messagingUnits !== undefined) {
    checker.check(
      PREMIUM_MESSAGING_UNITS.includes(messagingUnits),
      "namespace.messagingUnits",
      messagingUnits,
      "is not a Premium size; use 1, 2, 4, 8 or 16.",
    );
    checker.check(
      tier === "Premium",
      "namespace.messagingUnits",
      messagingUnits,
      'applies only with namespace.tier "Premium".',
    );
  }
  if (name !== undefined) {
    checker.check(
      NAMESPACE_NAME.test(name) && !/-(sb|mgmt)$/i.test(name),
      "namespace.name",
      name,
      'is not a Service Bus namespace name; use 6..50 letters, digits and hyphens, starting with a letter, ending with a letter or digit, and not ending in "-sb" or "-mgmt".',
    );
  }
}

/**
 * The physical names a queue derives from its name; they also keep the queue names it prefixes
 * valid. The namespace's name is derived to fit any name; the queues' length is checked with the
 * windows.
 */
const DEDUP_FORWARDING_QUEUE_NAMES: readonly DerivedName[] = [...prefixed("-fn", FUNCTION_APP_NAMES)];

/** Validates the arguments (every problem collected) and returns the settings they give. */
function resolveSettings(
  name: string,
  args: DedupForwardingQueueArgs,
): { checker: ArgumentChecker; settings: DedupForwardingQueueSettings } {
  const owner = ownerLabel("DedupForwardingQueue", name);
  const checker = new ArgumentChecker(owner);
  checkDerivedNames(checker, "DedupForwardingQueue", name, DEDUP_FORWARDING_QUEUE_NAMES);
  const timeZone = args.timeZone ?? DEFAULTS.timeZone;
  checker.check(
    isIanaTimeZone(timeZone),
    "timeZone",
    timeZone,
    'is not an IANA time zone Node.js knows; use e.g. "UTC", "Europe/London" or "America/New_York".',
  );
  const scheduleDelaySeconds = args.scheduleDelaySeconds ?? DEFAULTS.scheduleDelaySeconds;
  const scheduleDelayValid = secondsInRange(
    checker,
    "scheduleDelaySeconds",
    scheduleDelaySeconds,
    0,
    MAX_DUPLICATE_WINDOW_SECONDS,
    "it must be within",
  );

  const windows = args.windows ?? {};
  const windowNames = Object.keys(windows);
  checker.check(
    typeof args.windows === "object" && args.windows !== null && windowNames.length > 0,
    "windows",
    args.windows,
    "needs at least one window, e.g. { daily: 86400 }.",
  );
  const periods = checkWindows(checker, windows, timeZone, scheduleDelayValid ? scheduleDelaySeconds : undefined);

  const names = queueNames(name, windowNames, usesExisting(args.namespace));
  const longest = [names.work, ...Object.values(names.processing)].reduce((a, b) => (b.length > a.length ? b : a));
  checker.check(
    longest.length <= MAX_QUEUE_NAME_LENGTH,
    "name",
    name,
    `makes the queue name ${JSON.stringify(longest)} longer than Service Bus's ${MAX_QUEUE_NAME_LENGTH} characters; shorten the name or the window names.`,
  );
  checker.check(
    typeof args.process === "function",
    "process",
    args.process,
    "must be a function: async ({ dataSetId, period, window }) => void.",
  );
  checkNamespace(checker, args.namespace);
  checkQueueTransforms(checker, args.transform, windowNames);
  checkActionGroupIds(checker, args.alarmActions);

  const settings: DedupForwardingQueueSettings = {
    timeZone,
    scheduleDelaySeconds,
    workQueueName: names.work,
    windows: [...periods].map(([window, { periodSeconds, duplicateWindowSeconds }]) => ({
      name: window,
      queueName: names.processing[window],
      periodSeconds,
      duplicateWindowSeconds,
    })),
    workQueueDuplicateWindowSeconds: args.workQueueDuplicateWindowSeconds ?? DEFAULTS.workQueueDuplicateWindowSeconds,
    maxDeliveryCount: args.maxDeliveryCount ?? DEFAULTS.maxDeliveryCount,
    messageRetentionSeconds: args.messageRetentionSeconds ?? DEFAULTS.messageRetentionSeconds,
    lockDurationSeconds: args.lockDurationSeconds ?? DEFAULTS.lockDurationSeconds,
    maxConcurrentSessions: args.maxConcurrentSessions ?? DEFAULTS.maxConcurrentSessions,
    sessionIdleTimeoutSeconds: args.sessionIdleTimeoutSeconds ?? DEFAULTS.sessionIdleTimeoutSeconds,
  };
  checker
    .integerInRange(
      "workQueueDuplicateWindowSeconds",
      settings.workQueueDuplicateWindowSeconds,
      MIN_DUPLICATE_WINDOW_SECONDS,
      MAX_DUPLICATE_WINDOW_SECONDS,
      "Service Bus duplicate detection allows",
    )
    .integerInRange("maxDeliveryCount", settings.maxDeliveryCount, 1, 2000, "Service Bus allows")
    .integerInRange(
      "messageRetentionSeconds",
      settings.messageRetentionSeconds,
      1,
      MAX_MESSAGE_RETENTION_SECONDS,
      "Service Bus needs",
    )
    .integerInRange("lockDurationSeconds", settings.lockDurationSeconds, 5, 300, "Service Bus allows")
    .integerInRange("maxConcurrentSessions", settings.maxConcurrentSessions, 1, 1000, "the Functions host is given")
    .integerInRange("sessionIdleTimeoutSeconds", settings.sessionIdleTimeoutSeconds, 1, 300, "keep it within")
    .include(validateFunctionAppArgs(owner, args.function ?? {}, "function."));
  checkFunctionAppEnvironmentKeys(checker, args.environment);
  checkResourceGroupName(checker, "resourceGroupName", args.resourceGroupName);
  for (const [producer, principal] of Object.entries(args.producerPrincipalIds ?? {})) {
    const given = typeof principal === "object" && principal !== null && "principalId" in principal;
    checkPrincipalId(
      checker,
      `producerPrincipalIds.${producer}${given ? ".principalId" : ""}`,
      given ? principal.principalId : principal,
    );
  }
  return { checker, settings };
}

/** Validates the arguments; every problem is collected. `throwIfAny()` raises them together. */
export function validateDedupForwardingQueueArgs(name: string, args: DedupForwardingQueueArgs): ArgumentChecker {
  return resolveSettings(name, args).checker;
}

/** The settings valid arguments give (defaults applied, windows sized); throws on invalid ones. */
export function dedupForwardingQueueSettings(
  name: string,
  args: DedupForwardingQueueArgs,
): DedupForwardingQueueSettings {
  const { checker, settings } = resolveSettings(name, args);
  checker.throwIfAny();
  return settings;
}

/** What producers need: pass it (as JSON) to `ProcessingScheduler` in `runtime/dedup-forwarding-queue/producer`. */
export function producerConfigOf(settings: DedupForwardingQueueSettings): ProcessingScheduleConfig {
  return {
    timeZone: settings.timeZone,
    scheduleDelaySeconds: settings.scheduleDelaySeconds,
    windows: Object.fromEntries(
      settings.windows.map((w) => [
        w.name,
        { queueName: w.queueName, periodSeconds: w.periodSeconds, duplicateWindowSeconds: w.duplicateWindowSeconds },
      ]),
    ),
  };
}

/** The runtime the Function App's artifact starts from, for building it outside a Pulumi program too. */
export function processorEntry(settings: DedupForwardingQueueSettings) {
  const options: ProcessorOptions = {
    functionName: PROCESSOR_FUNCTION_NAME,
    queueName: settings.workQueueName,
    connection: SERVICE_BUS_CONNECTION,
    maxDeliveryCount: settings.maxDeliveryCount,
    windows: settings.windows.map((w) => w.name),
  };
  return runtimeEntry(PROCESSOR, options);
}

/** host.json `extensions.serviceBus`: one message per session at a time, completed on success. */
export function processorHostExtensions(settings: DedupForwardingQueueSettings): Record<string, unknown> {
  return {
    serviceBus: {
      autoCompleteMessages: true,
      maxConcurrentSessions: settings.maxConcurrentSessions,
      sessionIdleTimeout: timeSpan(settings.sessionIdleTimeoutSeconds),
      // Flex Consumption's default function timeout is 30 minutes; keep the session locked that long.
      maxAutoLockRenewalDuration: timeSpan(30 * 60),
    },
  };
}

/** A globally unique, valid namespace name derived from the component name. */
function derivedNamespaceName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^[^a-z]+/, "");
  const prefix = (cleaned || "dedup").slice(0, 41).replace(/-+$/, "");
  return `${prefix}-${uniqueSuffix(`${name}-namespace`)}`;
}

/**
 * What brings a window's duplicate detection within Service Bus's 7 days, only those that do: the
 * delay the zone leaves room for, and UTC (no clocks going back) only with the delay it leaves room for.
 */
function duplicateWindowFixes(periodSeconds: number, dstSeconds: number): string[] {
  const delayUpTo = (room: number) =>
    room === 0 ? "scheduleDelaySeconds: 0" : `scheduleDelaySeconds of at most ${room}`;
  const fixes = ["a shorter window"];
  const room = MAX_DUPLICATE_WINDOW_SECONDS - periodSeconds - dstSeconds;
  if (room >= 0) fixes.push(delayUpTo(room));
  const utcRoom = MAX_DUPLICATE_WINDOW_SECONDS - periodSeconds;
  if (dstSeconds > 0 && utcRoom >= 0) fixes.push(`timeZone "UTC" with ${delayUpTo(utcRoom)}`);
  return fixes;
}

/** The host name of a namespace's endpoint, once Service Bus reports it. */
function hostOf(endpoint: string | undefined): string {
  return whenReported([endpoint], (reported) => new URL(reported).hostname);
}

/**
 * The host name of an existing namespace, checked when Pulumi looks it up: its tier is only known
 * then, so a Basic namespace fails the deployment here with the fix, not later at the first send.
 */
export function existingNamespaceHost(
  owner: string,
  found: Pick<servicebus.GetNamespaceResult, "name" | "sku" | "serviceBusEndpoint">,
): string {
  if (found.sku?.name === "Basic") {
    throw new Error(
      `${owner}: namespace.existing ${JSON.stringify(found.name)} is Basic tier; duplicate detection and auto-forwarding need a Standard or Premium namespace.`,
    );
  }
  return hostOf(found.serviceBusEndpoint);
}

/**
 * Per-window processing queues with long duplicate detection, auto-forwarding into a
 * session-enabled work queue consumed by a Function App that runs `process` once per data set and period.
 */
export class DedupForwardingQueue extends PatternComponent {
  /** The created namespace; undefined with `namespace.existing`. */
  readonly namespace?: servicebus.Namespace;
  readonly workQueue: servicebus.Queue;
  /** The processing queues by window name. */
  readonly processingQueues: Record<string, servicebus.Queue>;
  readonly functionApp: FunctionApp;
  /** The name of the Function App that runs `process`. */
  readonly functionAppName: pulumi.Output<string>;
  /**
   * The object id of the Function App's system-assigned identity, which `process` runs as: grant it
   * what `process` uses (or pass `function.permissions`), e.g. a Cosmos DB SQL role assignment.
   */
  readonly functionPrincipalId: pulumi.Output<string>;
  /** Fires when a queue of the component holds dead-lettered messages. */
  readonly alarm: monitor.MetricAlert;
  /** The host name producers and the trigger connect to, e.g. `name.servicebus.windows.net`. */
  readonly fullyQualifiedNamespace: pulumi.Output<string>;
  readonly namespaceId: pulumi.Output<string>;
  readonly workQueueName: string;
  /** Processing queue names by window name. */
  readonly processingQueueNames: Record<string, string>;
  /** Processing queue resource ids by window name: scopes for granting producers "Azure Service Bus Data Sender". */
  readonly processingQueueIds: Record<string, pulumi.Output<string>>;
  /** Everything a producer needs, as plain JSON for its configuration: pass it to `ProcessingScheduler`. */
  readonly producerConfig: pulumi.Output<ProcessingScheduleConfig & { fullyQualifiedNamespace: string }>;
  /** The resolved settings (periods, windows, defaults applied). */
  readonly settings: DedupForwardingQueueSettings;
  private readonly componentName: string;

  constructor(name: string, args: DedupForwardingQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    // One validation pass: the settings come from the same pass as the problems the base throws.
    const { checker, settings } = resolveSettings(name, args);
    super("azure", "DedupForwardingQueue", name, checker, opts);
    this.componentName = name;
    this.settings = settings;
    const transform = args.transform ?? {};

    const namespace = this.declareNamespace(name, args, transform.namespace);
    this.namespace = namespace.resource;
    const queueScope = { resourceGroupName: namespace.resourceGroupName, namespaceName: namespace.name };
    this.fullyQualifiedNamespace = namespace.fullyQualifiedNamespace;
    this.namespaceId = namespace.id;

    // Queue names in a shared namespace carry the project/stack suffix; the ones in the state stay.
    const queueOptions = usesExisting(args.namespace)
      ? { ...this.child, ...stableNameOptions("queueName") }
      : this.child;
    this.workQueue = new servicebus.Queue(
      `${name}-work`,
      applyTransform(transform.workQueue, {
        ...queueScope,
        queueName: settings.workQueueName,
        ...FIXED_QUEUE_PROPERTIES.workQueue,
        duplicateDetectionHistoryTimeWindow: isoDuration(settings.workQueueDuplicateWindowSeconds),
        deadLetteringOnMessageExpiration: true,
        defaultMessageTimeToLive: isoDuration(settings.messageRetentionSeconds),
        maxDeliveryCount: settings.maxDeliveryCount,
        lockDuration: isoDuration(settings.lockDurationSeconds),
      }),
      queueOptions,
    );
    this.workQueueName = settings.workQueueName;

    this.processingQueues = {};
    this.processingQueueNames = {};
    this.processingQueueIds = {};
    for (const window of settings.windows) {
      const queueArgs: servicebus.QueueArgs = {
        ...queueScope,
        queueName: window.queueName,
        // Scheduled messages are deduplicated when sent, so the window must span the whole period.
        ...FIXED_QUEUE_PROPERTIES.processingQueue,
        duplicateDetectionHistoryTimeWindow: isoDuration(window.duplicateWindowSeconds),
        // The work queue's name output: the destination must exist before a queue forwards to it.
        forwardTo: this.workQueue.name,
        deadLetteringOnMessageExpiration: true,
      };
      const queue = new servicebus.Queue(
        `${name}-processing-${window.name}`,
        transform.processingQueue ? transform.processingQueue(queueArgs, window.name) : queueArgs,
        queueOptions,
      );
      this.processingQueues[window.name] = queue;
      this.processingQueueNames[window.name] = window.queueName;
      this.processingQueueIds[window.name] = queue.id;
    }

    this.functionApp = new FunctionApp(
      `${name}-fn`,
      {
        owner: this.owner,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        entry: processorEntry(settings),
        callbacks: { process: args.process },
        functionNames: [PROCESSOR_FUNCTION_NAME],
        hostExtensions: processorHostExtensions(settings),
        environment: pulumi
          .all([
            nonSecretAppSettings(this.owner, args.environment ?? {}, "function.permissions"),
            this.fullyQualifiedNamespace,
          ])
          .apply(([environment, fullyQualifiedNamespace]) => ({
            ...environment,
            [`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`]: fullyQualifiedNamespace,
          })),
        ...args.function,
        transform: transform.function,
        transformArgument: "transform.function",
      },
      this.child,
    );
    this.functionAppName = this.functionApp.name;
    this.functionPrincipalId = this.functionApp.principalId;
    // The trigger receives, and the scale controller reads the queue's message and session counts:
    // that takes Manage rights, which with Entra ID only "Azure Service Bus Data Owner" gives; with
    // Data Receiver alone the extension falls back to peeking and the app scales late or not from
    // zero (https://learn.microsoft.com/azure/azure-functions/event-driven-scaling, "Manage rights";
    // functions-bindings-service-bus: Data Receiver or Data Owner for triggers; azure-functions-host
    // #8261, #7921). Owner includes receiving, so it is the app's only role, on the work queue only.
    grantRole(
      `${name}-app-owner`,
      { principalId: this.functionPrincipalId, role: "Azure Service Bus Data Owner", scope: this.workQueue.id },
      this.child,
    );
    for (const [producer, principal] of Object.entries(args.producerPrincipalIds ?? {})) {
      const { principalId, principalType } =
        typeof principal === "object" && principal !== null && "principalId" in principal
          ? principal
          : { principalId: principal, principalType: undefined };
      this.grantProducer(producer, principalId, principalType);
    }

    this.alarm = new monitor.MetricAlert(
      `${name}-dead-letters`,
      applyTransform(transform.alarm, {
        resourceGroupName: args.resourceGroupName,
        location: "global",
        description: `${this.owner}: dead-lettered messages: failed runs (work queue) or messages a processing queue could not forward.`,
        severity: 2,
        enabled: true,
        scopes: [namespace.id],
        evaluationFrequency: "PT5M",
        windowSize: "PT5M",
        autoMitigate: true,
        criteria: {
          odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
          allOf: [
            {
              criterionType: "StaticThresholdCriterion",
              name: "dead-lettered",
              metricNamespace: "Microsoft.ServiceBus/namespaces",
              metricName: "DeadletteredMessages",
              dimensions: [
                {
                  name: "EntityName",
                  operator: "Include",
                  values: [settings.workQueueName, ...settings.windows.map((w) => w.queueName)],
                },
              ],
              operator: "GreaterThan",
              threshold: 0,
              timeAggregation: "Maximum",
            },
          ],
        },
        actions: pulumi
          .output(args.alarmActions ?? [])
          .apply((actionGroupIds) => actionGroupIds.map((actionGroupId) => ({ actionGroupId }))),
      }),
      this.child,
    );

    this.producerConfig = this.fullyQualifiedNamespace.apply((fullyQualifiedNamespace) => ({
      fullyQualifiedNamespace,
      ...producerConfigOf(settings),
    }));
    this.registerOutputsOf(
      "functionAppName",
      "functionPrincipalId",
      "fullyQualifiedNamespace",
      "namespaceId",
      "workQueueName",
      "processingQueueNames",
      "processingQueueIds",
      "producerConfig",
    );
  }

  /**
   * Lets an identity schedule observations: "Azure Service Bus Data Sender" on every processing
   * queue (and nothing else). `name` must be unique per component; it names the role assignments.
   */
  grantProducer(
    name: string,
    principalId: pulumi.Input<string>,
    principalType: RoleGrant["principalType"] = "ServicePrincipal",
  ): ReturnType<typeof grantRole>[] {
    return Object.entries(this.processingQueues).map(([window, queue]) =>
      grantRole(
        `${this.componentName}-producer-${name}-${window}`,
        { principalId, principalType, role: "Azure Service Bus Data Sender", scope: queue.id },
        this.child,
      ),
    );
  }

  private declareNamespace(
    name: string,
    args: DedupForwardingQueueArgs,
    transform: Transform<servicebus.NamespaceArgs> | undefined,
  ): {
    resource?: servicebus.Namespace;
    name: pulumi.Output<string>;
    resourceGroupName: pulumi.Output<string>;
    id: pulumi.Output<string>;
    fullyQualifiedNamespace: pulumi.Output<string>;
  } {
    if (usesExisting(args.namespace)) {
      const { existing } = args.namespace;
      const resourceGroupName = pulumi.output(existing.resourceGroupName ?? args.resourceGroupName);
      const found = servicebus.getNamespaceOutput({ namespaceName: existing.name, resourceGroupName }, this.child);
      return {
        name: found.name,
        resourceGroupName,
        id: found.id,
        fullyQualifiedNamespace: found.apply((result) => existingNamespaceHost(this.owner, result)),
      };
    }
    const {
      name: namespaceName,
      tier = DEFAULTS.namespace.tier,
      messagingUnits,
      allowLocalAuth,
    } = args.namespace ?? {};
    const namespace = new servicebus.Namespace(
      `${name}-namespace`,
      applyTransform(transform, {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        namespaceName: namespaceName ?? derivedNamespaceName(name),
        sku: {
          name: tier,
          tier,
          ...(tier === "Premium" ? { capacity: messagingUnits ?? DEFAULTS.namespace.messagingUnits } : {}),
        },
        // Entra ID (RBAC) only unless asked: no keys to leak or rotate.
        disableLocalAuth: !(allowLocalAuth ?? DEFAULTS.namespace.allowLocalAuth),
        minimumTlsVersion: "1.2",
      }),
      // A derived name changes with the project or stack name; the one in the state stays.
      { ...this.child, ...(namespaceName ? {} : stableNameOptions("namespaceName")) },
    );
    return {
      resource: namespace,
      name: namespace.name,
      resourceGroupName: pulumi.output(args.resourceGroupName),
      id: namespace.id,
      fullyQualifiedNamespace: namespace.serviceBusEndpoint.apply(hostOf),
    };
  }
}
