/**
 * FanOutIngest (Azure): millions of items from an external API into Storage Queues, fanned out over
 * parallel function invocations instead of one bottleneck function.
 *
 * A chunking function streams the user's `source` into chunk blobs; every new chunk blob raises a
 * BlobCreated event that an Event Grid system topic delivers, through a Storage Queue, to an
 * ingestion function, which enqueues that chunk's messages. Event Grid replaces the polling blob
 * trigger, which can lag minutes and miss blobs (and is not offered on Flex Consumption). Every hop
 * authenticates with a managed identity; the data account accepts no keys at all.
 */
import { runtimeFactory } from "../core/runtime-factory";
import type * as runtime from "../../runtime/fan-out-ingest";
import * as eventgrid from "@pulumi/azure-native/eventgrid";
import * as monitor from "@pulumi/azure-native/monitor";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import type { RunContext } from "../../runtime/fan-out-ingest/chunking";
import { FUNCTION_NAMES, type FanOutCallbacks, type FanOutOptions } from "../../runtime/fan-out-ingest/functions";
import type { MessageEncoding } from "../../runtime/fan-out-ingest/ingestion";
import { blobSubjectPrefix, CHUNK_SUFFIX, RUN_ROUTE } from "../../runtime/fan-out-ingest/layout";
import { type RuntimeEntry, runtimeEntry } from "../core/artifact";
import { type BuiltInRole, grantRole } from "../azure/roles";
import { hardenedStorageAccountArgs } from "../azure/secure-defaults";
import { PatternComponent, whenReported } from "../core/component";
import { usesExisting } from "../core/existing";
import {
  FUNCTION_APP_NAMES,
  FunctionApp,
  type FunctionAppSettings,
  type FunctionAppTransform,
  checkFunctionAppEnvironmentKeys,
  nonSecretAppSettings,
  validateFunctionAppArgs,
} from "../azure/function-app";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed, stableNameOptions } from "../core/naming";
import { applyTransform, type Transform } from "../core/transform";
import { ArgumentChecker, ownerLabel } from "../core/validation";
import { checkActionGroupIds, checkResourceGroupName } from "../azure/resource-id";

export type { RunContext } from "../../runtime/fan-out-ingest/chunking";
export type { MessageEncoding } from "../../runtime/fan-out-ingest/ingestion";

const FUNCTIONS = runtimeFactory<typeof runtime>(require.resolve("../../runtime/fan-out-ingest"))("createFunctions");

export interface FanOutIngestArgs<TItem = unknown> {
  /**
   * An existing resource group.
   * @default a new resource group `<name>-rg`
   */
  resourceGroupName?: pulumi.Input<string>;
  /**
   * Where the component's resources are created.
   * @default the resource group's location
   */
  location?: pulumi.Input<string>;
  /**
   * The items of one run, streamed: an async generator that walks a paginated API page by page.
   * Nothing requires the whole list in memory; chunks are uploaded while the source is read.
   * Runs in the chunking function; read non-secret settings such as the API's URL from
   * `process.env` (see `environment`).
   * @example
   * async function* ({ runId }) {
   *   for (let url = `${process.env.API_URL}/ids?limit=1000`; url; ) {
   *     const page = await (await fetch(url)).json();
   *     yield* page.ids;
   *     url = page.next;
   *   }
   * }
   */
  source: (run: RunContext) => AsyncIterable<TItem> | Iterable<TItem>;
  /**
   * Item -> queue message: a string is sent as is, anything else as its JSON. Runs in the ingestion
   * function, in parallel over chunks. If it throws for an item, that item goes to the poison queue
   * with the error.
   * @default strings as they are, other items as JSON
   * @example (id) => ({ id, kind: "refresh" })
   */
  toMessage?: (item: TItem) => unknown;
  /**
   * Items per chunk blob, i.e. messages per ingestion invocation.
   * @default 5000
   */
  chunkSize?: number;
  /**
   * Target queues the messages are spread over by a stable hash of the message text. One Storage
   * Queue takes about 2,000 messages/s; N queues take about N x 2,000, up to the account's ~20,000
   * requests/s.
   * @default 1
   */
  queueCount?: number;
  /**
   * The target queue's name; with `queueCount` > 1 the queues are `<queueName>-1` .. `<queueName>-N`.
   * Each has a poison queue `<queue>-poison`, where the Functions queue trigger of a consumer also
   * moves messages it failed five times.
   * @default "messages"
   */
  queueName?: string;
  /**
   * The container of chunk blobs (`<runId>/000001.chunk.json`) and run manifests (`<runId>/manifest.json`).
   * @default "chunks"
   */
  chunkContainerName?: string;
  /**
   * How message text is stored in the target queues. `base64` is what a Functions queue trigger
   * reads by default; use `none` for consumers that read raw text. Storage Queue's 64 KiB limit
   * applies to the encoded message, so base64 leaves 48 KiB of text.
   * @default "base64"
   */
  messageEncoding?: MessageEncoding;
  /**
   * Sends in flight per ingestion invocation (one chunk); the sends in flight overall are at most
   * `function.maximumInstanceCount` x this.
   * @default 16
   */
  sendConcurrency?: number;
  /**
   * Messages between two checkpoints of an ingestion: the most messages a crashed or duplicated
   * invocation can send twice.
   * @default 500
   */
  checkpointEvery?: number;
  /**
   * NCRONTAB schedule (`second minute hour day month day-of-week`, UTC) of a timer-started run, in
   * addition to `POST /api/runs`.
   * @example "0 0 2 * * *"
   */
  schedule?: string;
  /**
   * Chunk blobs and manifests are deleted this many days after they were last modified.
   * @default 7
   */
  chunkRetentionDays?: number;
  /** Event Grid's delivery of BlobCreated events to the events queue. */
  eventDelivery?: {
    /**
     * Deliveries of an event before it is dead-lettered into the dead-letter container.
     * @default 30 (the Event Grid maximum)
     */
    maxDeliveryCount?: number;
    /**
     * How long Event Grid keeps trying to deliver an event.
     * @default 1440 (the Event Grid maximum, 24 h)
     */
    eventTimeToLiveMinutes?: number;
  };
  /**
   * `{ existing: <name> }`: an Event Grid system topic on this component's storage account, to
   * subscribe through instead of creating one. Azure allows one system topic per account, and some
   * services (Defender for Storage) create theirs on every new account. It must have a
   * system-assigned identity.
   * @default a new system topic `<name>-events` with a system-assigned identity
   * @example { existing: "defender-topic" }
   */
  systemTopic?: { existing: pulumi.Input<string> };
  /**
   * Action group resource ids the alarms notify: when a run fails, when Event Grid dead-letters or
   * drops a BlobCreated event, and when an event or an item lands in a poison queue.
   */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Non-secret settings the callbacks read from `process.env`; secrets never go here.
   * @example { API_URL: "https://api.example.com" }
   */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Settings of the Function App that runs `source` and `toMessage`: the scale-out ceiling
   * (`maximumInstanceCount`, default 100; each instance ingests one chunk at a time), Node.js
   * version, instance memory, log retention, deployment timeout, and `permissions`, the Azure roles
   * the callbacks need on resources of their own (granted to the app's identity; see also
   * `functionPrincipalId`).
   * @default the Function App block's defaults
   * @example { nodeVersion: "22", permissions: { apiKey: { role: "Key Vault Secrets User", scope: vault.id } } }
   */
  function?: FunctionAppSettings;
  /** Escape hatches: change what this component did not foresee. */
  transform?: {
    storageAccount?: Transform<storage.StorageAccountArgs>;
    systemTopic?: Transform<eventgrid.SystemTopicArgs>;
    eventSubscription?: Transform<eventgrid.SystemTopicEventSubscriptionArgs>;
    /** The Function App block's children: `webApp`, `plan`, `hostStorage`. */
    function?: FunctionAppTransform;
  };
}

/** The app setting prefix of the data account connection, read by the runtime and the queue trigger. */
export const DATA_CONNECTION = "FanOutStorage";
/** Queue Event Grid writes BlobCreated events into, and its poison queue. */
export const EVENTS_QUEUE = "chunk-events";
/** Container Event Grid writes events it could not deliver into. */
export const DEAD_LETTER_CONTAINER = "event-dead-letters";
/** Storage queue and container names: 3..63 characters. */
const MAX_STORAGE_NAME = 63;
const POISON_SUFFIX = "-poison";

/** Storage's rule for queue and container names: lowercase letters, digits and single inner hyphens. */
const STORAGE_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const STORAGE_NAME_FIX =
  "use 3..63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.";

/**
 * Host settings for the ingestion trigger. `messageEncoding: none` hands the ingestion function the
 * stored text untouched: whether Event Grid stores plain JSON or base64 is disputed, and the
 * default (base64) would fail every plain-text event before the function sees it, so the function
 * decodes either form itself (`eventOfQueueMessage`). One chunk per instance at a time keeps the
 * in-flight sends at `instances x sendConcurrency`; five failed attempts move an event to
 * `<events queue>-poison`; 30 s between attempts lets a throttled account recover.
 */
export const INGESTION_HOST_QUEUES = {
  messageEncoding: "none",
  maxDequeueCount: 5,
  visibilityTimeout: "00:00:30",
  batchSize: 1,
  newBatchThreshold: 0,
} as const;

/** The defaults of every optional argument, in one place. */
export const FAN_OUT_DEFAULTS = {
  chunkSize: 5000,
  queueCount: 1,
  queueName: "messages",
  chunkContainerName: "chunks",
  messageEncoding: "base64" as MessageEncoding,
  sendConcurrency: 16,
  checkpointEvery: 500,
  chunkRetentionDays: 7,
  maxDeliveryCount: 30,
  eventTimeToLiveMinutes: 1440,
  uploadConcurrency: 4,
};

/** Every setting with its default applied. */
function withDefaults<TItem>(args: FanOutIngestArgs<TItem>) {
  return {
    chunkSize: args.chunkSize ?? FAN_OUT_DEFAULTS.chunkSize,
    queueCount: args.queueCount ?? FAN_OUT_DEFAULTS.queueCount,
    queueName: args.queueName ?? FAN_OUT_DEFAULTS.queueName,
    chunkContainerName: args.chunkContainerName ?? FAN_OUT_DEFAULTS.chunkContainerName,
    messageEncoding: args.messageEncoding ?? FAN_OUT_DEFAULTS.messageEncoding,
    sendConcurrency: args.sendConcurrency ?? FAN_OUT_DEFAULTS.sendConcurrency,
    checkpointEvery: args.checkpointEvery ?? FAN_OUT_DEFAULTS.checkpointEvery,
    chunkRetentionDays: args.chunkRetentionDays ?? FAN_OUT_DEFAULTS.chunkRetentionDays,
    maxDeliveryCount: args.eventDelivery?.maxDeliveryCount ?? FAN_OUT_DEFAULTS.maxDeliveryCount,
    eventTimeToLiveMinutes: args.eventDelivery?.eventTimeToLiveMinutes ?? FAN_OUT_DEFAULTS.eventTimeToLiveMinutes,
    uploadConcurrency: FAN_OUT_DEFAULTS.uploadConcurrency,
  };
}

/** The target queue names for a base name and count. */
export function targetQueueNames(queueName: string, queueCount: number): string[] {
  if (queueCount === 1) return [queueName];
  return Array.from({ length: queueCount }, (_, i) => `${queueName}-${i + 1}`);
}

export function poisonQueueName(queue: string): string {
  return `${queue}${POISON_SUFFIX}`;
}

/** The physical names an ingest derives from its name. */
const FAN_OUT_INGEST_NAMES: readonly DerivedName[] = [
  ...prefixed("-functions", FUNCTION_APP_NAMES),
  derived("<name>-chunk-created", NAME_RULES.eventSubscription),
  derived("<name>-events", NAME_RULES.systemTopic),
  derived("<name>-rg", NAME_RULES.resourceGroup),
];

/** Checks every argument and returns every problem, each with its fix. */
export function validateFanOutIngestArgs<TItem>(name: string, args: FanOutIngestArgs<TItem>): ArgumentChecker {
  const owner = ownerLabel("FanOutIngest", name);
  const checker = new ArgumentChecker(owner);
  checkActionGroupIds(checker, args.alarmActions);
  checkDerivedNames(checker, "FanOutIngest", name, FAN_OUT_INGEST_NAMES);
  checker.check(
    typeof args.source === "function",
    "source",
    args.source,
    "must be a function returning an async iterable, e.g. an async generator that walks the API's pages.",
  );
  if (args.toMessage !== undefined) {
    checker.check(
      typeof args.toMessage === "function",
      "toMessage",
      args.toMessage,
      "must be a function from an item to a message (string or JSON value).",
    );
  }
  const chunkSize = args.chunkSize ?? FAN_OUT_DEFAULTS.chunkSize;
  checkInteger(
    checker,
    "chunkSize",
    args.chunkSize,
    1,
    100_000,
    "one ingestion invocation enqueues a whole chunk within the Functions time limit",
  );
  checkInteger(
    checker,
    "queueCount",
    args.queueCount,
    1,
    10,
    "ten queues at ~2,000 msg/s reach the storage account's ~20,000 requests/s, so more add nothing",
  );
  checkInteger(checker, "sendConcurrency", args.sendConcurrency, 1, 256, "sends in flight per invocation");
  checkInteger(
    checker,
    "checkpointEvery",
    args.checkpointEvery,
    1,
    Number.isInteger(chunkSize) && chunkSize >= 1 ? chunkSize : FAN_OUT_DEFAULTS.chunkSize,
    "at most the chunk size",
  );
  checkInteger(
    checker,
    "chunkRetentionDays",
    args.chunkRetentionDays,
    1,
    3650,
    "days after which lifecycle management deletes chunks",
  );
  checkInteger(
    checker,
    "eventDelivery.maxDeliveryCount",
    args.eventDelivery?.maxDeliveryCount,
    1,
    30,
    "Event Grid allows",
  );
  checkInteger(
    checker,
    "eventDelivery.eventTimeToLiveMinutes",
    args.eventDelivery?.eventTimeToLiveMinutes,
    1,
    1440,
    "Event Grid allows",
  );
  if (args.messageEncoding !== undefined) {
    checker.check(
      args.messageEncoding === "base64" || args.messageEncoding === "none",
      "messageEncoding",
      args.messageEncoding,
      'is not a Storage Queue message encoding; use "base64" (what a Functions queue trigger reads by default) or "none".',
    );
  }
  if (args.schedule !== undefined) {
    const fields = args.schedule.trim().split(/\s+/);
    checker.check(
      fields.length === 6 && fields.every((field) => /^[0-9A-Za-z*,/-]+$/.test(field)),
      "schedule",
      args.schedule,
      'is not a 6-field NCRONTAB expression (second minute hour day month day-of-week); e.g. "0 0 2 * * *" runs daily at 02:00 UTC.',
    );
  }

  const chunkContainer = args.chunkContainerName ?? FAN_OUT_DEFAULTS.chunkContainerName;
  if (checkStorageName(checker, "chunkContainerName", args.chunkContainerName, "blob container")) {
    checker.check(
      chunkContainer !== DEAD_LETTER_CONTAINER,
      "chunkContainerName",
      chunkContainer,
      `is the Event Grid dead-letter container of this component; choose another name.`,
    );
  }
  const queueName = args.queueName ?? FAN_OUT_DEFAULTS.queueName;
  if (checkStorageName(checker, "queueName", args.queueName, "Storage queue")) {
    const queueCount =
      Number.isInteger(args.queueCount) && (args.queueCount ?? 0) >= 1
        ? (args.queueCount as number)
        : FAN_OUT_DEFAULTS.queueCount;
    const longest = poisonQueueName(targetQueueNames(queueName, queueCount).at(-1) as string);
    checker.check(
      longest.length <= MAX_STORAGE_NAME,
      "queueName",
      queueName,
      `is too long: its poison queue "${longest}" would have ${longest.length} characters and Storage allows ${MAX_STORAGE_NAME}; use at most ${queueName.length - (longest.length - MAX_STORAGE_NAME)} characters.`,
    );
    const reserved = [EVENTS_QUEUE, poisonQueueName(EVENTS_QUEUE)];
    checker.check(
      !targetQueueNames(queueName, queueCount).some(
        (queue) => reserved.includes(queue) || reserved.includes(poisonQueueName(queue)),
      ),
      "queueName",
      queueName,
      `collides with this component's events queues (${reserved.join(", ")}); choose another name.`,
    );
  }
  if (args.systemTopic !== undefined) {
    // There are no settings to create a topic with, so anything but `{ existing }` is a mistake.
    checker.check(
      usesExisting(args.systemTopic),
      "systemTopic",
      args.systemTopic,
      'must be { existing: "<system topic name>" }, a system topic on this component\'s storage account; omit systemTopic to create one.',
    );
  }
  checkFunctionAppEnvironmentKeys(checker, args.environment);
  checkResourceGroupName(
    checker,
    "resourceGroupName",
    args.resourceGroupName,
    ", or omit resourceGroupName to create one",
  );
  return checker.include(validateFunctionAppArgs(owner, args.function ?? {}, "function."));
}

function checkInteger(
  checker: ArgumentChecker,
  argument: string,
  value: number | undefined,
  min: number,
  max: number,
  why: string,
): void {
  if (value === undefined) return;
  checker.check(
    Number.isInteger(value) && value >= min && value <= max,
    argument,
    value,
    `is out of range; use ${min}..${max} (${why}).`,
  );
}

/** Records a problem unless `value` is a valid Storage queue/container name; true when it is (or unset). */
function checkStorageName(
  checker: ArgumentChecker,
  argument: string,
  value: string | undefined,
  kind: string,
): boolean {
  if (value === undefined) return true;
  const ok =
    typeof value === "string" && value.length >= 3 && value.length <= MAX_STORAGE_NAME && STORAGE_NAME.test(value);
  checker.check(ok, argument, value, `is not a valid ${kind} name; ${STORAGE_NAME_FIX}`);
  return ok;
}

/** The Event Grid filter that selects new chunk blobs of a container, and nothing else. */
export function chunkCreatedFilter(chunkContainerName: string) {
  return {
    includedEventTypes: ["Microsoft.Storage.BlobCreated"],
    subjectBeginsWith: blobSubjectPrefix(chunkContainerName),
    // Only chunk blobs: writing the run manifest (`<runId>/manifest.json`) must not start an ingestion.
    subjectEndsWith: CHUNK_SUFFIX,
    isSubjectCaseSensitive: true,
  };
}

/** What the Function App runs, as `fanOutFunctions` returns it. */
export interface FanOutFunctions<TItem> {
  entry: RuntimeEntry<FanOutCallbacks<TItem>, FanOutOptions>;
  callbacks: FanOutCallbacks<TItem>;
  hostExtensions: { queues: typeof INGESTION_HOST_QUEUES };
  /** The functions the entry registers: the deployment waits until Azure lists them. */
  functionNames: string[];
}

/**
 * What the Function App runs: the runtime entry with its settings, the callbacks and the host
 * settings. The component deploys exactly this; local scenarios build their artifact from it too.
 */
export function fanOutFunctions<TItem>(args: FanOutIngestArgs<TItem>): FanOutFunctions<TItem> {
  const settings = withDefaults(args);
  const queueNames = targetQueueNames(settings.queueName, settings.queueCount);
  const options: FanOutOptions = {
    connection: DATA_CONNECTION,
    chunkContainer: settings.chunkContainerName,
    eventsQueue: EVENTS_QUEUE,
    eventsPoisonQueue: poisonQueueName(EVENTS_QUEUE),
    targetQueues: queueNames,
    poisonQueues: queueNames.map(poisonQueueName),
    chunkSize: settings.chunkSize,
    uploadConcurrency: settings.uploadConcurrency,
    concurrency: settings.sendConcurrency,
    checkpointEvery: settings.checkpointEvery,
    messageEncoding: settings.messageEncoding,
    ...(args.schedule ? { schedule: args.schedule } : {}),
  };
  return {
    entry: runtimeEntry(FUNCTIONS, options),
    callbacks: { source: args.source, toMessage: args.toMessage },
    hostExtensions: { queues: INGESTION_HOST_QUEUES },
    functionNames: [
      FUNCTION_NAMES.chunk,
      FUNCTION_NAMES.ingest,
      ...(args.schedule ? [FUNCTION_NAMES.chunkOnSchedule] : []),
    ],
  };
}

/**
 * The Application Insights query of the poison alarm: the warnings the Function App logs when
 * something lands in a poison queue. The host moves an event that failed five times ("Message has
 * reached MaxDequeueCount of 5. Moving message to queue '<queue>-poison'.", a warning of the
 * WebJobs queue processor, `QueueProcessor.CopyMessageToPoisonQueueAsync`); the ingestion function
 * warns when it rejects an event ("event rejected to ...") or poisons items ("... 1 poisoned, ...").
 * Storage queue metrics have no per-queue dimension, so no metric alert can tell a poison queue
 * from a target queue.
 */
export const POISON_LOG_QUERY = [
  "traces",
  "| where severityLevel == 2",
  '| where message has "Moving message to queue" or message startswith "event rejected to " or message matches regex @"[1-9][0-9]* poisoned"',
].join("\n");

/**
 * The Application Insights query of the failed-run alarm: invocations of the chunking functions
 * that failed. A timer run that fails is not retried, and the HTTP function answers 500 with the
 * run id to resume.
 */
export const FAILED_RUN_QUERY = [
  "requests",
  `| where operation_Name in ("${FUNCTION_NAMES.chunk}", "${FUNCTION_NAMES.chunkOnSchedule}")`,
  "| where success == false or toint(resultCode) >= 500",
].join("\n");

/** FanOutIngest's alarms, one per way a run, an event or an item ends outside the target queues. */
export interface FanOutAlarms {
  /** Event Grid dead-lettered BlobCreated events (`DeadLetteredCount` of this subscription). */
  deadLetteredEvents: monitor.MetricAlert;
  /** Event Grid dropped events it could not dead-letter either (`DroppedEventCount`). */
  droppedEvents: monitor.MetricAlert;
  /** Events or items went to a poison queue (a log search alert on the app's Application Insights). */
  poisoned: monitor.ScheduledQueryRule;
  /** A run failed: the source threw or the chunks could not be written (a log search alert). */
  failedRuns: monitor.ScheduledQueryRule;
}

/** Fan-out ingestion of a paginated source into Storage Queues through chunk blobs and Event Grid. */
export class FanOutIngest<TItem = unknown> extends PatternComponent {
  readonly resourceGroupName: pulumi.Output<string>;
  /** The data account: chunks, events, target and poison queues. */
  readonly storageAccount: storage.StorageAccount;
  readonly storageAccountName: pulumi.Output<string>;
  /** Endpoints for consumers of the target queues (with a managed identity and a queue data role). */
  readonly queueServiceUri: pulumi.Output<string>;
  readonly blobServiceUri: pulumi.Output<string>;
  readonly chunkContainerName: string;
  /** Target queues, in hash order. */
  readonly queueNames: string[];
  /** The poison queue of each target queue, same order. */
  readonly poisonQueueNames: string[];
  /** Created unless `systemTopic.existing` was given. */
  readonly systemTopic?: eventgrid.SystemTopic;
  readonly eventSubscription: eventgrid.SystemTopicEventSubscription;
  /** The system topic's identity, which Event Grid delivers and dead-letters with. */
  readonly eventGridPrincipalId: pulumi.Output<string>;
  readonly functionApp: FunctionApp;
  readonly functionAppName: pulumi.Output<string>;
  /**
   * The object id of the Function App's system-assigned identity, which `source` and `toMessage` run
   * as: grant it what they use beyond this component (or pass `function.permissions`), e.g. a
   * Cosmos DB SQL role assignment.
   */
  readonly functionPrincipalId: pulumi.Output<string>;
  /** `POST` here (with a function key, `x-functions-key`) starts a run; `?runId=` resumes one. */
  readonly runUrl: pulumi.Output<string>;
  /** What raises an alarm: every way a run, an event or an item ends outside the target queues. */
  readonly alarms: FanOutAlarms;

  constructor(name: string, args: FanOutIngestArgs<TItem>, opts?: pulumi.ComponentResourceOptions) {
    super("azure", "FanOutIngest", name, validateFanOutIngestArgs(name, args), opts);
    const { owner, child } = this;
    const settings = withDefaults(args);
    const transform = args.transform ?? {};

    const resourceGroupName = args.resourceGroupName
      ? pulumi.output(args.resourceGroupName)
      : new resources.ResourceGroup(`${name}-rg`, { location: args.location }, child).name;
    this.resourceGroupName = resourceGroupName;

    // Storage: Functions, Event Grid and Pulumi all use identities, so the account takes no keys.
    this.storageAccount = new storage.StorageAccount(
      `${name}-data`,
      applyTransform(
        transform.storageAccount,
        hardenedStorageAccountArgs({ logicalName: `${name}-data`, resourceGroupName, location: args.location }),
      ),
      // The derived name changes with the project or stack name; the one in the state stays.
      { ...child, ...stableNameOptions("accountName") },
    );
    const account = this.storageAccount;
    const accountName = account.name;
    const container = (logical: string, containerName: string) =>
      new storage.BlobContainer(
        logical,
        { accountName, resourceGroupName, containerName, publicAccess: "None" },
        child,
      );
    const queue = (queueName: string) =>
      new storage.Queue(`${name}-queue-${queueName}`, { accountName, resourceGroupName, queueName }, child);

    this.chunkContainerName = settings.chunkContainerName;
    const chunks = container(`${name}-chunks`, this.chunkContainerName);
    const deadLetters = container(`${name}-dead-letters`, DEAD_LETTER_CONTAINER);
    const eventsQueue = queue(EVENTS_QUEUE);
    const eventsPoisonQueue = queue(poisonQueueName(EVENTS_QUEUE));
    this.queueNames = targetQueueNames(settings.queueName, settings.queueCount);
    this.poisonQueueNames = this.queueNames.map(poisonQueueName);
    const targetQueues = this.queueNames.map(queue);
    const poisonQueues = this.poisonQueueNames.map(queue);

    new storage.ManagementPolicy(
      `${name}-chunk-retention`,
      {
        accountName,
        resourceGroupName,
        // Azure allows one policy per account, and it must be called "default".
        managementPolicyName: "default",
        policy: {
          rules: [
            {
              name: "delete-old-chunks",
              enabled: true,
              type: "Lifecycle",
              definition: {
                filters: { blobTypes: ["blockBlob"], prefixMatch: [`${this.chunkContainerName}/`] },
                actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: settings.chunkRetentionDays } } },
              },
            },
          ],
        },
      },
      child,
    );

    // Event Grid: BlobCreated of chunk blobs -> the events queue, with the topic's own identity.
    let topicName: pulumi.Output<string>;
    let topicId: pulumi.Output<string>;
    let topicPrincipalId: pulumi.Output<string>;
    if (usesExisting(args.systemTopic)) {
      const existing = eventgrid.getSystemTopicOutput(
        { resourceGroupName, systemTopicName: args.systemTopic.existing },
        child,
      );
      topicName = existing.name;
      topicId = existing.id;
      // A lookup that reports no topic id (a mock echoing its inputs) says nothing of its identity either.
      topicPrincipalId = existing.apply((topic) =>
        whenReported([topic.id], () =>
          requirePrincipal(owner, `system topic ${topic.name}`, topic.identity?.principalId),
        ),
      );
    } else {
      this.systemTopic = new eventgrid.SystemTopic(
        `${name}-events`,
        applyTransform(transform.systemTopic, {
          resourceGroupName,
          location: account.location,
          source: account.id,
          topicType: "Microsoft.Storage.StorageAccounts",
          identity: { type: "SystemAssigned" },
        }),
        child,
      );
      topicName = this.systemTopic.name;
      topicId = this.systemTopic.id;
      topicPrincipalId = this.systemTopic.identity.apply((identity) =>
        whenReported([identity?.principalId], (id) => id),
      );
    }
    this.eventGridPrincipalId = topicPrincipalId;
    const topicGrants = [
      grantRole(
        `${name}-topic-events-sender`,
        { principalId: topicPrincipalId, role: "Storage Queue Data Message Sender", scope: eventsQueue.id },
        child,
      ),
      grantRole(
        `${name}-topic-dead-letter-writer`,
        { principalId: topicPrincipalId, role: "Storage Blob Data Contributor", scope: deadLetters.id },
        child,
      ),
    ];
    const withTopicIdentity = { type: "SystemAssigned" };
    this.eventSubscription = new eventgrid.SystemTopicEventSubscription(
      `${name}-chunk-created`,
      applyTransform(transform.eventSubscription, {
        resourceGroupName,
        systemTopicName: topicName,
        eventDeliverySchema: "EventGridSchema",
        filter: chunkCreatedFilter(this.chunkContainerName),
        retryPolicy: {
          maxDeliveryAttempts: settings.maxDeliveryCount,
          eventTimeToLiveInMinutes: settings.eventTimeToLiveMinutes,
        },
        deliveryWithResourceIdentity: {
          identity: withTopicIdentity,
          destination: {
            endpointType: "StorageQueue",
            resourceId: account.id,
            queueName: eventsQueue.name,
            // Never expire: an event waiting for a broken ingestion to be fixed must not vanish.
            queueMessageTimeToLiveInSeconds: -1,
          },
        },
        deadLetterWithResourceIdentity: {
          identity: withTopicIdentity,
          deadLetterDestination: {
            endpointType: "StorageBlob",
            resourceId: account.id,
            blobContainerName: deadLetters.name,
          },
        },
      }),
      // Event Grid checks it can write to the destination when the subscription is created.
      { ...child, dependsOn: topicGrants },
    );

    // The Function App: chunking (HTTP, timer) and ingestion (queue trigger on the events queue).
    this.blobServiceUri = account.primaryEndpoints.blob;
    this.queueServiceUri = account.primaryEndpoints.queue;
    this.functionApp = new FunctionApp(
      `${name}-functions`,
      {
        owner,
        resourceGroupName,
        location: args.location,
        ...fanOutFunctions(args),
        environment: pulumi
          .all([
            nonSecretAppSettings(owner, args.environment ?? {}, "function.permissions"),
            this.blobServiceUri,
            this.queueServiceUri,
          ])
          .apply(([environment, blobServiceUri, queueServiceUri]) => ({
            ...environment,
            [`${DATA_CONNECTION}__blobServiceUri`]: blobServiceUri,
            [`${DATA_CONNECTION}__queueServiceUri`]: queueServiceUri,
          })),
        ...args.function,
        transform: transform.function,
        transformArgument: "transform.function",
      },
      child,
    );
    const appPrincipal = this.functionApp.principalId;
    this.functionPrincipalId = appPrincipal;
    const grantApp = (grantName: string, role: BuiltInRole, scope: pulumi.Input<string>) =>
      grantRole(`${name}-app-${grantName}`, { principalId: appPrincipal, role, scope }, child);
    grantApp("chunks", "Storage Blob Data Contributor", chunks.id);
    // The queue trigger peeks, dequeues, deletes and updates messages (UpdateMessage extends a
    // message's visibility while it is being processed); only Contributor covers all of them.
    grantApp("events-consumer", "Storage Queue Data Contributor", eventsQueue.id);
    grantApp("events-poison-sender", "Storage Queue Data Message Sender", eventsPoisonQueue.id);
    targetQueues.forEach((target, i) =>
      grantApp(`${this.queueNames[i]}-sender`, "Storage Queue Data Message Sender", target.id),
    );
    poisonQueues.forEach((poison, i) =>
      grantApp(`${this.poisonQueueNames[i]}-sender`, "Storage Queue Data Message Sender", poison.id),
    );

    const actions = pulumi.output(args.alarmActions ?? []);
    const subscriptionName = this.eventSubscription.name;
    const eventAlarm = (alarmName: string, metricName: string, what: string) =>
      new monitor.MetricAlert(
        `${name}-${alarmName}`,
        {
          resourceGroupName,
          location: "global",
          description: `${owner}: ${what}`,
          severity: 2,
          enabled: true,
          scopes: [topicId],
          evaluationFrequency: "PT5M",
          windowSize: "PT5M",
          autoMitigate: true,
          criteria: {
            odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            allOf: [
              {
                criterionType: "StaticThresholdCriterion",
                name: alarmName,
                metricNamespace: "Microsoft.EventGrid/systemTopics",
                metricName,
                // Only this component's subscription: an existing topic can have others.
                dimensions: [{ name: "EventSubscriptionName", operator: "Include", values: [subscriptionName] }],
                operator: "GreaterThan",
                threshold: 0,
                timeAggregation: "Total",
              },
            ],
          },
          actions: actions.apply((ids) => ids.map((actionGroupId) => ({ actionGroupId }))),
        },
        child,
      );
    const appInsights = this.functionApp.appInsights;
    // A log search alert on the app's Application Insights: storage queue metrics have no
    // per-queue dimension, and a failed run is seen only in the app's telemetry.
    const logAlarm = (alarmName: string, query: string, what: string) =>
      new monitor.ScheduledQueryRule(
        `${name}-${alarmName}`,
        {
          resourceGroupName,
          location: appInsights.location,
          kind: "LogAlert",
          description: `${owner}: ${what}`,
          severity: 2,
          enabled: true,
          scopes: [appInsights.id],
          evaluationFrequency: "PT5M",
          windowSize: "PT15M",
          autoMitigate: true,
          criteria: {
            allOf: [
              {
                query,
                timeAggregation: "Count",
                operator: "GreaterThan",
                threshold: 0,
                failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
              },
            ],
          },
          actions: { actionGroups: actions },
        },
        child,
      );
    this.alarms = {
      deadLetteredEvents: eventAlarm(
        "dead-lettered-events",
        "DeadLetteredCount",
        `Event Grid dead-lettered BlobCreated events into ${DEAD_LETTER_CONTAINER}: their chunks were not ingested.`,
      ),
      droppedEvents: eventAlarm(
        "dropped-events",
        "DroppedEventCount",
        "Event Grid dropped BlobCreated events it could neither deliver nor dead-letter: their chunks were not ingested.",
      ),
      poisoned: logAlarm(
        "poisoned",
        POISON_LOG_QUERY,
        `events or items went to a poison queue (${[poisonQueueName(EVENTS_QUEUE), ...this.poisonQueueNames].join(", ")}).`,
      ),
      failedRuns: logAlarm(
        "failed-runs",
        FAILED_RUN_QUERY,
        "a run failed (the source threw or chunks could not be written); resume it with POST /api/runs?runId=<id>.",
      ),
    };

    this.storageAccountName = accountName;
    this.functionAppName = this.functionApp.name;
    this.runUrl = pulumi.interpolate`https://${this.functionApp.webApp.defaultHostName}/api/${RUN_ROUTE}`;
    this.registerOutputsOf(
      "resourceGroupName",
      "storageAccountName",
      "queueServiceUri",
      "queueNames",
      "poisonQueueNames",
      "functionAppName",
      "functionPrincipalId",
      "runUrl",
    );
  }
}

/** The principal Event Grid delivers with; a topic without a system-assigned identity cannot deliver without keys. */
export function requirePrincipal(owner: string, what: string, principalId: string | undefined): string {
  if (!principalId) {
    throw new Error(
      `${owner}: ${what} has no system-assigned identity; Event Grid needs one to deliver without keys. Enable it on the topic.`,
    );
  }
  return principalId;
}
