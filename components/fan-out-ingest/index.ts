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
import * as eventgrid from "@pulumi/azure-native/eventgrid";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { FunctionApp } from "../azure/function-app";
import { nonSecretAppSettings } from "../azure/app-settings";
import { hardenedStorageAccountArgs } from "../azure/secure-defaults";
import { type RuntimeEntry, runtimeEntry } from "../core/artifact";
import { PatternComponent, whenReported } from "../core/component";
import { usesExisting } from "../core/existing";
import { stableNameOptions } from "../core/naming";
import { runtimeFactory } from "../core/runtime-factory";
import { applyTransform, type Transform } from "../core/transform";
import { type ArgumentChecker, InvalidArgumentsError } from "../core/validation";
import type * as runtime from "../../runtime/fan-out-ingest";
import { FUNCTION_NAMES, type FanOutCallbacks, type FanOutOptions } from "../../runtime/fan-out-ingest/contract";
import { RUN_ROUTE } from "../../runtime/fan-out-ingest/layout";
import { createAlarms, type FanOutAlarms } from "./alerts";
import type { FanOutIngestArgs, FanOutIngestTransform } from "./args";
import { chunkEventSubscriptionArgs, type FunctionAppScopes, grantEventGrid, grantFunctionApp } from "./policies";
import {
  DATA_CONNECTION,
  DEAD_LETTER_CONTAINER,
  EVENTS_QUEUE,
  type FanOutIngestSettings,
  fanOutIngestSettings,
  poisonQueueName,
} from "./settings";

export { FAILED_RUN_QUERY, type FanOutAlarms, POISON_LOG_QUERY } from "./alerts";
export { FAN_OUT_DEFAULTS, type FanOutIngestArgs, type FanOutIngestTransform } from "./args";
export { chunkCreatedFilter } from "./policies";
export { DATA_CONNECTION, DEAD_LETTER_CONTAINER, EVENTS_QUEUE, poisonQueueName, targetQueueNames } from "./settings";
export type { MessageEncoding, RunContext } from "../../runtime/fan-out-ingest/contract";

const FUNCTIONS = runtimeFactory<typeof runtime>(require.resolve("../../runtime/fan-out-ingest"))("createFunctions");

/** Checks every argument and returns every problem, each with its fix. */
export function validateFanOutIngestArgs<TItem>(name: string, args: FanOutIngestArgs<TItem>): ArgumentChecker {
  return fanOutIngestSettings(name, args).problems;
}

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
  // The name labels problems only, which the component reports; what runs depends on the args alone.
  return functionsOf(args, fanOutIngestSettings("fan-out", args).settings);
}

function functionsOf<TItem>(args: FanOutIngestArgs<TItem>, settings: FanOutIngestSettings): FanOutFunctions<TItem> {
  const options: FanOutOptions = {
    connection: DATA_CONNECTION,
    chunkContainer: settings.chunkContainerName,
    eventsQueue: EVENTS_QUEUE,
    eventsPoisonQueue: poisonQueueName(EVENTS_QUEUE),
    targetQueues: settings.queueNames,
    poisonQueues: settings.poisonQueueNames,
    chunkSize: settings.chunkSize,
    uploadConcurrency: settings.uploadConcurrency,
    concurrency: settings.sendConcurrency,
    checkpointEvery: settings.checkpointEvery,
    messageEncoding: settings.messageEncoding,
    ...(settings.schedule ? { schedule: settings.schedule } : {}),
  };
  return {
    entry: runtimeEntry(FUNCTIONS, options),
    callbacks: { source: args.source, toMessage: args.toMessage },
    hostExtensions: { queues: INGESTION_HOST_QUEUES },
    functionNames: [
      FUNCTION_NAMES.chunk,
      FUNCTION_NAMES.ingest,
      ...(settings.schedule ? [FUNCTION_NAMES.chunkOnSchedule] : []),
    ],
  };
}

/** The data account's containers and queues: what Event Grid and the Function App are granted on. */
interface FanOutStorage extends FunctionAppScopes {
  deadLetters: storage.BlobContainer;
}

/** The system topic the subscription goes through: created, or an existing one looked up. */
interface ChunkEventTopic {
  created?: eventgrid.SystemTopic;
  name: pulumi.Output<string>;
  id: pulumi.Output<string>;
  /** The identity Event Grid delivers and dead-letters with. */
  principalId: pulumi.Output<string>;
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
    const { settings, problems } = fanOutIngestSettings(name, args);
    super("azure", "FanOutIngest", name, problems, opts);
    const transform: FanOutIngestTransform = args.transform ?? {};

    this.resourceGroupName = args.resourceGroupName
      ? pulumi.output(args.resourceGroupName)
      : new resources.ResourceGroup(`${name}-rg`, { location: args.location }, this.child).name;
    this.storageAccount = this.createStorageAccount(name, args.location, transform.storageAccount);
    this.storageAccountName = this.storageAccount.name;
    this.blobServiceUri = this.storageAccount.primaryEndpoints.blob;
    this.queueServiceUri = this.storageAccount.primaryEndpoints.queue;
    this.chunkContainerName = settings.chunkContainerName;
    this.queueNames = settings.queueNames;
    this.poisonQueueNames = settings.poisonQueueNames;
    const store = this.createContainersAndQueues(name, settings);
    this.deleteOldChunks(name, settings);

    const topic = this.chunkEventTopic(name, args.systemTopic, transform.systemTopic);
    this.systemTopic = topic.created;
    this.eventGridPrincipalId = topic.principalId;
    this.eventSubscription = this.subscribeToChunkEvents(name, topic, store, settings, transform.eventSubscription);

    this.functionApp = this.createFunctionApp(name, args, settings);
    this.functionAppName = this.functionApp.name;
    this.functionPrincipalId = this.functionApp.principalId;
    grantFunctionApp(name, this.functionPrincipalId, store, this.child);

    this.alarms = createAlarms(
      {
        name,
        owner: this.owner,
        resourceGroupName: this.resourceGroupName,
        topicId: topic.id,
        subscriptionName: this.eventSubscription.name,
        appInsights: this.functionApp.appInsights,
        deadLetterContainerName: DEAD_LETTER_CONTAINER,
        poisonQueueNames: [poisonQueueName(EVENTS_QUEUE), ...this.poisonQueueNames],
        alarmActions: args.alarmActions ?? [],
      },
      this.child,
    );
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

  /** The data account: Functions, Event Grid and Pulumi all use identities, so it takes no keys. */
  private createStorageAccount(
    name: string,
    location: pulumi.Input<string> | undefined,
    transform: Transform<storage.StorageAccountArgs> | undefined,
  ): storage.StorageAccount {
    return new storage.StorageAccount(
      `${name}-data`,
      applyTransform(
        transform,
        hardenedStorageAccountArgs({
          logicalName: `${name}-data`,
          resourceGroupName: this.resourceGroupName,
          location,
        }),
      ),
      // The derived name changes with the project or stack name; the one in the state stays.
      { ...this.child, ...stableNameOptions("accountName") },
    );
  }

  private createContainersAndQueues(name: string, settings: FanOutIngestSettings): FanOutStorage {
    const accountName = this.storageAccount.name;
    const resourceGroupName = this.resourceGroupName;
    const container = (logical: string, containerName: string) =>
      new storage.BlobContainer(
        logical,
        { accountName, resourceGroupName, containerName, publicAccess: "None" },
        this.child,
      );
    const queue = (queueName: string) => ({
      queueName,
      queue: new storage.Queue(`${name}-queue-${queueName}`, { accountName, resourceGroupName, queueName }, this.child),
    });
    return {
      chunks: container(`${name}-chunks`, settings.chunkContainerName),
      deadLetters: container(`${name}-dead-letters`, DEAD_LETTER_CONTAINER),
      eventsQueue: queue(EVENTS_QUEUE).queue,
      eventsPoisonQueue: queue(poisonQueueName(EVENTS_QUEUE)).queue,
      targetQueues: settings.queueNames.map(queue),
      poisonQueues: settings.poisonQueueNames.map(queue),
    };
  }

  /** Chunk blobs and manifests are deleted `chunkRetentionDays` after they were last modified. */
  private deleteOldChunks(name: string, settings: FanOutIngestSettings): void {
    new storage.ManagementPolicy(
      `${name}-chunk-retention`,
      {
        accountName: this.storageAccount.name,
        resourceGroupName: this.resourceGroupName,
        // Azure allows one policy per account, and it must be called "default".
        managementPolicyName: "default",
        policy: {
          rules: [
            {
              name: "delete-old-chunks",
              enabled: true,
              type: "Lifecycle",
              definition: {
                filters: { blobTypes: ["blockBlob"], prefixMatch: [`${settings.chunkContainerName}/`] },
                actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: settings.chunkRetentionDays } } },
              },
            },
          ],
        },
      },
      this.child,
    );
  }

  /** The data account's system topic, with the identity Event Grid delivers with. */
  private chunkEventTopic(
    name: string,
    systemTopic: FanOutIngestArgs["systemTopic"],
    transform: Transform<eventgrid.SystemTopicArgs> | undefined,
  ): ChunkEventTopic {
    if (usesExisting(systemTopic)) {
      const existing = eventgrid.getSystemTopicOutput(
        { resourceGroupName: this.resourceGroupName, systemTopicName: systemTopic.existing },
        this.child,
      );
      return {
        name: existing.name,
        id: existing.id,
        // A lookup that reports no topic id (a mock echoing its inputs) says nothing of its identity either.
        principalId: existing.apply((topic) =>
          whenReported([topic.id], () => requirePrincipal(this.owner, topic.name, topic.identity?.principalId)),
        ),
      };
    }
    const created = new eventgrid.SystemTopic(
      `${name}-events`,
      applyTransform(transform, {
        resourceGroupName: this.resourceGroupName,
        location: this.storageAccount.location,
        source: this.storageAccount.id,
        topicType: "Microsoft.Storage.StorageAccounts",
        identity: { type: "SystemAssigned" },
      }),
      this.child,
    );
    return {
      created,
      name: created.name,
      id: created.id,
      principalId: created.identity.apply((identity) => whenReported([identity?.principalId], (id) => id)),
    };
  }

  /** BlobCreated of chunk blobs -> the events queue, with the topic's own identity. */
  private subscribeToChunkEvents(
    name: string,
    topic: ChunkEventTopic,
    store: FanOutStorage,
    settings: FanOutIngestSettings,
    transform: Transform<eventgrid.SystemTopicEventSubscriptionArgs> | undefined,
  ): eventgrid.SystemTopicEventSubscription {
    const topicGrants = grantEventGrid(name, topic.principalId, store, this.child);
    return new eventgrid.SystemTopicEventSubscription(
      `${name}-chunk-created`,
      applyTransform(
        transform,
        chunkEventSubscriptionArgs({
          resourceGroupName: this.resourceGroupName,
          systemTopicName: topic.name,
          chunkContainerName: settings.chunkContainerName,
          accountId: this.storageAccount.id,
          eventsQueueName: store.eventsQueue.name,
          deadLetterContainerName: store.deadLetters.name,
          maxDeliveryCount: settings.maxDeliveryCount,
          eventTimeToLiveMinutes: settings.eventTimeToLiveMinutes,
        }),
      ),
      // Event Grid checks it can write to the destination when the subscription is created.
      { ...this.child, dependsOn: topicGrants },
    );
  }

  /** Chunking (HTTP, timer) and ingestion (queue trigger on the events queue), connected by identity. */
  private createFunctionApp(name: string, args: FanOutIngestArgs<TItem>, settings: FanOutIngestSettings): FunctionApp {
    return new FunctionApp(
      `${name}-functions`,
      {
        owner: this.owner,
        resourceGroupName: this.resourceGroupName,
        location: args.location,
        ...functionsOf(args, settings),
        environment: pulumi
          .all([
            nonSecretAppSettings(this.owner, args.environment ?? {}, "function.permissions"),
            this.blobServiceUri,
            this.queueServiceUri,
          ])
          .apply(([environment, blobServiceUri, queueServiceUri]) => ({
            ...environment,
            [`${DATA_CONNECTION}__blobServiceUri`]: blobServiceUri,
            [`${DATA_CONNECTION}__queueServiceUri`]: queueServiceUri,
          })),
        ...args.function,
        transform: args.transform?.function,
        transformArgument: "transform.function",
      },
      this.child,
    );
  }
}

/**
 * The principal Event Grid delivers with, checked at deployment when the existing topic is read: a
 * topic without a system-assigned identity cannot deliver without keys.
 */
export function requirePrincipal(owner: string, topicName: string, principalId: string | undefined): string {
  if (!principalId) {
    throw new InvalidArgumentsError(owner, [
      {
        argument: "systemTopic.existing",
        value: topicName,
        fix: "has no system-assigned identity; Event Grid needs one to deliver without keys. Enable it on the topic.",
      },
    ]);
  }
  return principalId;
}
