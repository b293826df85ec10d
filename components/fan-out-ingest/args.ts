/**
 * FanOutIngest's arguments, documented member by member (the docs tables are generated from this
 * TSDoc), and the defaults of the optional ones.
 */
import type * as eventgrid from "@pulumi/azure-native/eventgrid";
import type * as storage from "@pulumi/azure-native/storage";
import type * as pulumi from "@pulumi/pulumi";
import type { FunctionAppSettings, FunctionAppTransform } from "../azure/function-app";
import type { Transform } from "../core/transform";
import type { MessageEncoding, RunContext } from "../../runtime/fan-out-ingest/contract";

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
  transform?: FanOutIngestTransform;
}

/** Escape hatches per child resource: each gets the args the component built and returns the args to use. */
export interface FanOutIngestTransform {
  /** The data account of chunks, events, target and poison queues. */
  storageAccount?: Transform<storage.StorageAccountArgs>;
  /** The Event Grid system topic, when the component creates it. */
  systemTopic?: Transform<eventgrid.SystemTopicArgs>;
  /** The subscription that delivers BlobCreated events of chunk blobs to the events queue. */
  eventSubscription?: Transform<eventgrid.SystemTopicEventSubscriptionArgs>;
  /** The Function App block's children: `webApp`, `plan`, `hostStorage`. */
  function?: FunctionAppTransform;
}

/** The defaults of every optional argument, in one place, and the chunking function's fixed upload concurrency. */
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
  /** Chunk uploads in flight at once in the chunking function (fixed, not an argument); the source waits while all are busy. */
  uploadConcurrency: 4,
};
