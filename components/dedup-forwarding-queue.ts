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
import * as monitor from "@pulumi/azure-native/monitor";
import * as servicebus from "@pulumi/azure-native/servicebus";
import * as pulumi from "@pulumi/pulumi";
import { describeDuration, isoDuration, timeSpan } from "../runtime/dedup-forwarding-queue/duration";
import { DAY_SECONDS, longestBackwardShiftSeconds, periodShapeProblem } from "../runtime/dedup-forwarding-queue/period";
import { isIanaTimeZone } from "../runtime/shared/time-zone";
import {
  type ProcessCallback,
  type ProcessorOptions,
  processorRuntime,
} from "../runtime/dedup-forwarding-queue/processor";
import type { ProcessingScheduleConfig } from "../runtime/dedup-forwarding-queue/producer";
import { runtimeEntry } from "./artifact";
import { grantRole, type RoleGrant } from "./azure-roles";
import { FunctionApp, type FunctionAppArgs, type FunctionAppSettings, validateFunctionAppArgs } from "./function-app";
import { uniqueSuffix } from "./naming";
import { applyTransform, type Transform } from "./transform";
import { ArgumentChecker, ownerLabel } from "./validation";
import { durationArgument } from "./validators/duration";

export type {
  ProcessCallback,
  ProcessingMessageInfo,
  ProcessingRun,
} from "../runtime/dedup-forwarding-queue/processor";
export type { ProcessingScheduleConfig } from "../runtime/dedup-forwarding-queue/producer";

/** An identity allowed to schedule observations: an object id, or one with its principal type. */
export type ProducerPrincipal =
  pulumi.Input<string> | { principalId: pulumi.Input<string>; principalType: NonNullable<RoleGrant["principalType"]> };

export interface DedupForwardingQueueArgs {
  resourceGroupName: pulumi.Input<string>;
  /** @default the resource group's location */
  location?: pulumi.Input<string>;
  /**
   * The periods to deduplicate over, one processing queue each, by name. A length is written
   * "1 day", "2 hours", "30 minutes" or ISO 8601 ("P1D", "PT2H"); under a day it must divide 24
   * hours, from a day on it must be whole days, at most "7 days".
   * @example { daily: "1 day", twoHourly: "2 hours" }
   */
  windows: Record<string, string>;
  /**
   * Runs once per data set and period. Returning completes the message; throwing abandons it, and
   * after `maxDeliveryCount` deliveries Service Bus dead-letters it.
   * @example async ({ dataSetId, period, periodStart, periodEnd }) => { await summarize(dataSetId, periodStart, periodEnd); }
   */
  process: ProcessCallback;
  /**
   * The IANA time zone whose wall clock the periods follow ("1 day" = the local calendar day). A
   * zone name, not a UTC offset such as "+01:00" (see runtime/shared/time-zone.ts); a fixed offset
   * is a name too ("Etc/GMT-1" is UTC+01:00).
   * @default "UTC"
   * @example "Europe/London"
   */
  timeZone?: string;
  /**
   * How long after the end of a period its run starts: slack for producers that report late.
   * @default "5 minutes"
   */
  scheduleDelay?: string;
  /** Tier of the created namespace; Basic has neither duplicate detection nor auto-forwarding. @default "Standard" */
  tier?: "Standard" | "Premium";
  /** Messaging units of a Premium namespace (1, 2, 4, 8 or 16). @default 1 */
  premiumMessagingUnits?: number;
  /** The created namespace's name (6..50 letters, digits, hyphens; globally unique). @default derived from the component name */
  namespaceName?: string;
  /** Keep SAS (shared key) authentication on the created namespace. @default false: Entra ID only */
  allowLocalAuth?: boolean;
  /**
   * Use an existing Standard or Premium namespace instead of creating one.
   * @example { name: "shared-bus", resourceGroupName: "messaging" }
   */
  existingNamespace?: { name: pulumi.Input<string>; resourceGroupName?: pulumi.Input<string> };
  /** The work queue's duplicate-detection window, for accidental resends. @default "10 minutes" */
  workQueueDuplicateWindow?: string;
  /** Deliveries of a run before Service Bus dead-letters it. @default 10 */
  maxDeliveryCount?: number;
  /** How long a run may wait in the work queue before it expires into the dead-letter queue. @default "14 days" */
  workMessageTimeToLive?: string;
  /** The work queue's peek-lock duration; the Functions host renews it while `process` runs. @default "1 minute" */
  lockDuration?: string;
  /** Sessions (runs) one instance processes at once (host.json `maxConcurrentSessions`). @default 8 */
  maxConcurrentSessions?: number;
  /** How long the host waits for another message in a session before taking the next one. @default "10 seconds" */
  sessionIdleTimeout?: string;
  /**
   * Identities allowed to schedule observations: "Azure Service Bus Data Sender" on every processing
   * queue, by a stable name (it names the role assignments). More can be added with `grantProducer`.
   * @example { ingest: ingestApp.principalId, analyst: { principalId: "<object id>", principalType: "User" } }
   */
  producerPrincipalIds?: Record<string, ProducerPrincipal>;
  /** Action groups notified when a queue of the component holds dead-lettered messages. */
  alertActionGroupIds?: pulumi.Input<string>[];
  /**
   * Settings of the Function App building block, including `permissions`: the Azure roles
   * `process` needs on resources of its own, granted to the app's identity (see also
   * `functionPrincipalId`).
   * @example { permissions: { reports: { role: "Storage Blob Data Contributor", scope: reports.id } } }
   */
  functionApp?: FunctionAppSettings;
  /** Escape hatches: change what the component did not foresee. */
  transform?: {
    namespace?: Transform<servicebus.NamespaceArgs>;
    workQueue?: Transform<servicebus.QueueArgs>;
    /** Called once per window with its name. */
    processingQueue?: (args: servicebus.QueueArgs, window: string) => servicebus.QueueArgs;
    deadLetterAlert?: Transform<monitor.MetricAlertArgs>;
    functionApp?: FunctionAppArgs["transform"];
  };
}

/** The app setting prefix of the trigger's identity-based connection: `ServiceBus__fullyQualifiedNamespace`. */
export const SERVICE_BUS_CONNECTION = "ServiceBus";
/** The name of the function the Function App registers. */
export const PROCESSOR_FUNCTION_NAME = "process";

/** Service Bus duplicate detection: "between 20 seconds and 7 days". */
const MIN_DUPLICATE_WINDOW_SECONDS = 20;
const MAX_DUPLICATE_WINDOW_SECONDS = 7 * DAY_SECONDS;
const QUEUE_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/i;
const MAX_QUEUE_NAME_LENGTH = 260;
const NAMESPACE_NAME = /^[a-z][a-z0-9-]{4,48}[a-z0-9]$/i;
const PREMIUM_MESSAGING_UNITS = [1, 2, 4, 8, 16];

/** A window after parsing: its queue, period and duplicate-detection window. */
export interface WindowSettings {
  name: string;
  queueName: string;
  periodSeconds: number;
  /** The longest period in real time (DST) plus the schedule delay. */
  duplicateWindowSeconds: number;
}

/** The arguments with every default applied and every duration parsed, in one place. */
export interface DedupForwardingQueueSettings {
  timeZone: string;
  scheduleDelaySeconds: number;
  workQueueName: string;
  windows: WindowSettings[];
  workQueueDuplicateWindowSeconds: number;
  maxDeliveryCount: number;
  workMessageTimeToLiveSeconds: number;
  lockDurationSeconds: number;
  maxConcurrentSessions: number;
  sessionIdleTimeoutSeconds: number;
}

const DEFAULTS = {
  timeZone: "UTC",
  scheduleDelay: "5 minutes",
  workQueueDuplicateWindow: "10 minutes",
  maxDeliveryCount: 10,
  workMessageTimeToLive: "14 days",
  lockDuration: "1 minute",
  maxConcurrentSessions: 8,
  sessionIdleTimeout: "10 seconds",
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

/** Checks every window; returns the valid ones with their period and duplicate-detection window. */
function checkWindows(
  checker: ArgumentChecker,
  windows: Record<string, string>,
  timeZone: string,
  scheduleDelaySeconds: number | undefined,
): Map<string, { periodSeconds: number; duplicateWindowSeconds: number }> {
  const periods = new Map<string, { periodSeconds: number; duplicateWindowSeconds: number }>();
  const dstSeconds = isIanaTimeZone(timeZone) ? longestBackwardShiftSeconds(timeZone) : 0;
  const seenQueueNames = new Map<string, string>();
  for (const [window, text] of Object.entries(windows)) {
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

    const periodSeconds = durationArgument(checker, argument, text, {
      min: MIN_DUPLICATE_WINDOW_SECONDS,
      max: MAX_DUPLICATE_WINDOW_SECONDS,
      rule: "Service Bus duplicate detection allows",
    });
    if (periodSeconds === undefined) continue;
    const shape = periodShapeProblem(periodSeconds);
    checker.check(shape === undefined, argument, text, shape ?? "");
    if (shape !== undefined) continue;
    const twin = [...periods].find(([, other]) => other.periodSeconds === periodSeconds)?.[0];
    checker.check(
      twin === undefined,
      argument,
      text,
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
      `scheduleDelay ${describeDuration(scheduleDelaySeconds)}`,
    ];
    checker.check(
      needed <= MAX_DUPLICATE_WINDOW_SECONDS,
      argument,
      text,
      `needs a duplicate-detection window of ${describeDuration(needed)} (${parts.join(" plus ")}); Service Bus allows at most 7 days. Use a shorter window or scheduleDelay${dstSeconds > 0 ? ', or timeZone "UTC"' : ""}.`,
    );
  }
  return periods;
}

/** Validates the arguments (every problem collected) and returns the settings they give. */
function resolveSettings(
  name: string,
  args: DedupForwardingQueueArgs,
): { checker: ArgumentChecker; settings: DedupForwardingQueueSettings } {
  const checker = new ArgumentChecker(ownerLabel("DedupForwardingQueue", name));
  const timeZone = args.timeZone ?? DEFAULTS.timeZone;
  checker.check(
    isIanaTimeZone(timeZone),
    "timeZone",
    timeZone,
    'is not an IANA time zone Node.js knows; use e.g. "UTC", "Europe/London" or "America/New_York".',
  );
  const scheduleDelaySeconds = durationArgument(
    checker,
    "scheduleDelay",
    args.scheduleDelay ?? DEFAULTS.scheduleDelay,
    {
      min: 0,
      max: MAX_DUPLICATE_WINDOW_SECONDS,
      rule: "it must be within",
    },
  );

  const windows = args.windows ?? {};
  const windowNames = Object.keys(windows);
  checker.check(
    typeof args.windows === "object" && args.windows !== null && windowNames.length > 0,
    "windows",
    args.windows,
    'needs at least one window, e.g. { daily: "1 day" }.',
  );
  const periods = checkWindows(checker, windows, timeZone, scheduleDelaySeconds);

  checker.check(
    QUEUE_NAME.test(name),
    "name",
    name,
    'cannot prefix Service Bus queue names; use letters, digits, ".", "-" or "_", starting and ending with a letter or digit.',
  );
  const names = queueNames(name, windowNames, args.existingNamespace !== undefined);
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

  if (args.tier !== undefined) {
    const fix =
      (args.tier as string) === "Basic"
        ? 'is not supported; duplicate detection and auto-forwarding need "Standard" or "Premium".'
        : 'is not a Service Bus tier; use "Standard" or "Premium".';
    checker.check(args.tier === "Standard" || args.tier === "Premium", "tier", args.tier, fix);
  }
  if (args.premiumMessagingUnits !== undefined) {
    checker.check(
      PREMIUM_MESSAGING_UNITS.includes(args.premiumMessagingUnits),
      "premiumMessagingUnits",
      args.premiumMessagingUnits,
      "is not a Premium size; use 1, 2, 4, 8 or 16.",
    );
    checker.check(
      args.tier === "Premium",
      "premiumMessagingUnits",
      args.premiumMessagingUnits,
      'applies only with tier "Premium".',
    );
  }
  if (args.namespaceName !== undefined) {
    checker.check(
      NAMESPACE_NAME.test(args.namespaceName) && !/-(sb|mgmt)$/i.test(args.namespaceName),
      "namespaceName",
      args.namespaceName,
      'is not a Service Bus namespace name; use 6..50 letters, digits and hyphens, starting with a letter, ending with a letter or digit, and not ending in "-sb" or "-mgmt".',
    );
  }
  if (args.existingNamespace !== undefined) {
    const onlyForCreated = "applies only to a namespace the component creates; omit it or omit existingNamespace.";
    checker.check(args.tier === undefined, "tier", args.tier, onlyForCreated);
    checker.check(args.namespaceName === undefined, "namespaceName", args.namespaceName, onlyForCreated);
    checker.check(args.allowLocalAuth === undefined, "allowLocalAuth", args.allowLocalAuth, onlyForCreated);
  }

  const workQueueDuplicateWindowSeconds = durationArgument(
    checker,
    "workQueueDuplicateWindow",
    args.workQueueDuplicateWindow ?? DEFAULTS.workQueueDuplicateWindow,
    {
      min: MIN_DUPLICATE_WINDOW_SECONDS,
      max: MAX_DUPLICATE_WINDOW_SECONDS,
      rule: "Service Bus duplicate detection allows",
    },
  );
  checker.integerInRange("maxDeliveryCount", args.maxDeliveryCount, 1, 2000, "Service Bus allows");
  const workMessageTimeToLiveSeconds = durationArgument(
    checker,
    "workMessageTimeToLive",
    args.workMessageTimeToLive ?? DEFAULTS.workMessageTimeToLive,
    {
      min: 1,
      rule: "Service Bus needs",
    },
  );
  const lockDurationSeconds = durationArgument(checker, "lockDuration", args.lockDuration ?? DEFAULTS.lockDuration, {
    min: 5,
    max: 300,
    rule: "Service Bus allows",
  });
  checker.integerInRange("maxConcurrentSessions", args.maxConcurrentSessions, 1, 1000, "the Functions host is given");
  const sessionIdleTimeoutSeconds = durationArgument(
    checker,
    "sessionIdleTimeout",
    args.sessionIdleTimeout ?? DEFAULTS.sessionIdleTimeout,
    {
      min: 1,
      max: 300,
      rule: "keep it within",
    },
  );
  for (const problem of validateFunctionAppArgs("", args.functionApp ?? {}).list()) {
    checker.check(false, `functionApp.${problem.argument}`, problem.value, problem.fix);
  }

  return {
    checker,
    settings: {
      timeZone,
      scheduleDelaySeconds: scheduleDelaySeconds ?? 0,
      workQueueName: names.work,
      windows: [...periods].map(([window, { periodSeconds, duplicateWindowSeconds }]) => ({
        name: window,
        queueName: names.processing[window],
        periodSeconds,
        duplicateWindowSeconds,
      })),
      workQueueDuplicateWindowSeconds: workQueueDuplicateWindowSeconds ?? 0,
      maxDeliveryCount: args.maxDeliveryCount ?? DEFAULTS.maxDeliveryCount,
      workMessageTimeToLiveSeconds: workMessageTimeToLiveSeconds ?? 0,
      lockDurationSeconds: lockDurationSeconds ?? 0,
      maxConcurrentSessions: args.maxConcurrentSessions ?? DEFAULTS.maxConcurrentSessions,
      sessionIdleTimeoutSeconds: sessionIdleTimeoutSeconds ?? 0,
    },
  };
}

/** Validates the arguments; every problem is collected. `throwIfAny()` raises them together. */
export function validateDedupForwardingQueueArgs(name: string, args: DedupForwardingQueueArgs): ArgumentChecker {
  return resolveSettings(name, args).checker;
}

/** The settings valid arguments give (defaults applied, durations parsed); throws on invalid ones. */
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
  return runtimeEntry(processorRuntime, options);
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

function hostOf(endpoint: string): string {
  return new URL(endpoint).hostname;
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
      `${owner}: existingNamespace ${JSON.stringify(found.name)} is Basic tier; duplicate detection and auto-forwarding need a Standard or Premium namespace.`,
    );
  }
  return hostOf(found.serviceBusEndpoint);
}

/**
 * Per-window processing queues with long duplicate detection, auto-forwarding into a
 * session-enabled work queue consumed by a Function App that runs `process` once per data set and period.
 */
export class DedupForwardingQueue extends pulumi.ComponentResource {
  /** The created namespace; undefined with `existingNamespace`. */
  readonly namespace?: servicebus.Namespace;
  readonly workQueue: servicebus.Queue;
  /** The processing queues by window name. */
  readonly processingQueues: Record<string, servicebus.Queue>;
  readonly functionApp: FunctionApp;
  /**
   * The object id of the Function App's system-assigned identity, which `process` runs as: grant it
   * what `process` uses (or pass `functionApp.permissions`), e.g. a Cosmos DB SQL role assignment.
   */
  readonly functionPrincipalId: pulumi.Output<string>;
  readonly deadLetterAlert: monitor.MetricAlert;
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
  /** The parsed settings (periods, windows, defaults applied). */
  readonly settings: DedupForwardingQueueSettings;
  private readonly componentName: string;

  constructor(name: string, args: DedupForwardingQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:azure:DedupForwardingQueue", name, {}, opts);
    const owner = ownerLabel("DedupForwardingQueue", name);
    this.componentName = name;
    this.settings = dedupForwardingQueueSettings(name, args);
    const settings = this.settings;
    const transform = args.transform ?? {};
    const parent = { parent: this };

    const namespace = this.declareNamespace(name, owner, args, transform.namespace);
    this.namespace = namespace.resource;
    const queueScope = { resourceGroupName: namespace.resourceGroupName, namespaceName: namespace.name };
    this.fullyQualifiedNamespace = namespace.fullyQualifiedNamespace;
    this.namespaceId = namespace.id;

    this.workQueue = new servicebus.Queue(
      `${name}-work`,
      applyTransform(transform.workQueue, {
        ...queueScope,
        queueName: settings.workQueueName,
        // One consumer per data set and period at a time: the SessionId is `<dataSetId>-<period>`.
        requiresSession: true,
        requiresDuplicateDetection: true,
        duplicateDetectionHistoryTimeWindow: isoDuration(settings.workQueueDuplicateWindowSeconds),
        deadLetteringOnMessageExpiration: true,
        defaultMessageTimeToLive: isoDuration(settings.workMessageTimeToLiveSeconds),
        maxDeliveryCount: settings.maxDeliveryCount,
        lockDuration: isoDuration(settings.lockDurationSeconds),
        enablePartitioning: false,
      }),
      parent,
    );
    this.workQueueName = settings.workQueueName;

    this.processingQueues = {};
    this.processingQueueNames = {};
    this.processingQueueIds = {};
    for (const window of settings.windows) {
      const queueArgs: servicebus.QueueArgs = {
        ...queueScope,
        queueName: window.queueName,
        // A session-enabled queue cannot auto-forward; the SessionId still travels with the message.
        requiresSession: false,
        // Scheduled messages are deduplicated when sent, so the window must span the whole period.
        requiresDuplicateDetection: true,
        duplicateDetectionHistoryTimeWindow: isoDuration(window.duplicateWindowSeconds),
        // The work queue's name output: the destination must exist before a queue forwards to it.
        forwardTo: this.workQueue.name,
        deadLetteringOnMessageExpiration: true,
        enablePartitioning: false,
      };
      const queue = new servicebus.Queue(
        `${name}-processing-${window.name}`,
        transform.processingQueue ? transform.processingQueue(queueArgs, window.name) : queueArgs,
        parent,
      );
      this.processingQueues[window.name] = queue;
      this.processingQueueNames[window.name] = window.queueName;
      this.processingQueueIds[window.name] = queue.id;
    }

    this.functionApp = new FunctionApp(
      `${name}-fn`,
      {
        owner,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        entry: processorEntry(settings),
        callbacks: { process: args.process },
        hostExtensions: processorHostExtensions(settings),
        environment: { [`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`]: this.fullyQualifiedNamespace },
        ...args.functionApp,
        transform: transform.functionApp,
      },
      parent,
    );
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
      parent,
    );
    for (const [producer, principal] of Object.entries(args.producerPrincipalIds ?? {})) {
      const { principalId, principalType } =
        typeof principal === "object" && principal !== null && "principalId" in principal
          ? principal
          : { principalId: principal, principalType: undefined };
      this.grantProducer(producer, principalId, principalType);
    }

    this.deadLetterAlert = new monitor.MetricAlert(
      `${name}-dead-letters`,
      applyTransform(transform.deadLetterAlert, {
        resourceGroupName: args.resourceGroupName,
        location: "global",
        description: `${owner}: dead-lettered messages: failed runs (work queue) or messages a processing queue could not forward.`,
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
        actions: (args.alertActionGroupIds ?? []).map((actionGroupId) => ({ actionGroupId })),
      }),
      parent,
    );

    this.producerConfig = this.fullyQualifiedNamespace.apply((fullyQualifiedNamespace) => ({
      fullyQualifiedNamespace,
      ...producerConfigOf(settings),
    }));
    this.registerOutputs({
      functionPrincipalId: this.functionPrincipalId,
      fullyQualifiedNamespace: this.fullyQualifiedNamespace,
      namespaceId: this.namespaceId,
      workQueueName: this.workQueueName,
      processingQueueNames: this.processingQueueNames,
      processingQueueIds: this.processingQueueIds,
      producerConfig: this.producerConfig,
    });
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
        { parent: this },
      ),
    );
  }

  private declareNamespace(
    name: string,
    owner: string,
    args: DedupForwardingQueueArgs,
    transform: Transform<servicebus.NamespaceArgs> | undefined,
  ): {
    resource?: servicebus.Namespace;
    name: pulumi.Output<string>;
    resourceGroupName: pulumi.Output<string>;
    id: pulumi.Output<string>;
    fullyQualifiedNamespace: pulumi.Output<string>;
  } {
    if (args.existingNamespace) {
      const resourceGroupName = pulumi.output(args.existingNamespace.resourceGroupName ?? args.resourceGroupName);
      const existing = servicebus.getNamespaceOutput(
        { namespaceName: args.existingNamespace.name, resourceGroupName },
        { parent: this },
      );
      return {
        name: existing.name,
        resourceGroupName,
        id: existing.id,
        fullyQualifiedNamespace: existing.apply((found) => existingNamespaceHost(owner, found)),
      };
    }
    const tier = args.tier ?? "Standard";
    const namespace = new servicebus.Namespace(
      `${name}-namespace`,
      applyTransform(transform, {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        namespaceName: args.namespaceName ?? derivedNamespaceName(name),
        sku: { name: tier, tier, ...(tier === "Premium" ? { capacity: args.premiumMessagingUnits ?? 1 } : {}) },
        // Entra ID (RBAC) only unless asked: no keys to leak or rotate.
        disableLocalAuth: !(args.allowLocalAuth ?? false),
        minimumTlsVersion: "1.2",
      }),
      { parent: this },
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
