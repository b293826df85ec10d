/**
 * DedupForwardingQueue's settings step: the arguments with every default applied and every window
 * sized, and every problem with them, in one pass.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as servicebus from "@pulumi/azure-native/servicebus";
import { describeDuration } from "../../runtime/dedup-forwarding-queue/duration";
import {
  DAY_SECONDS,
  longestBackwardShiftSeconds,
  periodShapeProblem,
} from "../../runtime/dedup-forwarding-queue/period";
import { isIanaTimeZone } from "../../runtime/shared/time-zone";
import { FUNCTION_APP_NAMES, validateFunctionAppArgs } from "../azure/function-app";
import { checkFunctionAppEnvironmentKeys } from "../azure/app-settings";
import { checkActionGroupIds, checkResourceGroupName } from "../azure/resource-id";
import { checkPrincipalId } from "../azure/roles";
import { checkExisting, usesExisting } from "../core/existing";
import { checkDerivedNames, type DerivedName, prefixed, uniqueSuffix } from "../core/naming";
import { ArgumentChecker, ownerLabel, type Settled } from "../core/validation";
import { DEFAULTS, type DedupForwardingQueueArgs } from "./args";
import { producerPrincipal } from "./policies";

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

/**
 * What the component sets on its queues that `transform` may not change: azure-native replaces a
 * queue when one of them changes (provider/pkg/gen/replacement.go, forceNewMap; Service Bus cannot
 * change them on an existing queue), deleting it first as it does every explicitly named resource.
 */
export const FIXED_QUEUE_PROPERTIES = {
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

    checker.integerInRange(
      argument,
      periodSeconds,
      MIN_DUPLICATE_WINDOW_SECONDS,
      MAX_DUPLICATE_WINDOW_SECONDS,
      "Service Bus duplicate detection allows",
    );
    if (checker.has(argument)) continue;
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

/**
 * The settings the arguments give (defaults applied, windows sized) and every problem with them;
 * `problems.throwIfAny()` raises them together.
 */
export function dedupForwardingQueueSettings(
  name: string,
  args: DedupForwardingQueueArgs,
): Settled<DedupForwardingQueueSettings> {
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
  checker.integerInRange(
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
  const periods = checkWindows(
    checker,
    windows,
    timeZone,
    checker.has("scheduleDelaySeconds") ? undefined : scheduleDelaySeconds,
  );

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
    const { principalId, typed } = producerPrincipal(principal);
    checkPrincipalId(checker, `producerPrincipalIds.${producer}${typed ? ".principalId" : ""}`, principalId);
  }
  return { settings, problems: checker };
}

/** Validates the arguments; every problem is collected. `throwIfAny()` raises them together. */
export function validateDedupForwardingQueueArgs(name: string, args: DedupForwardingQueueArgs): ArgumentChecker {
  return dedupForwardingQueueSettings(name, args).problems;
}
