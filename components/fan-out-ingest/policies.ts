/**
 * Who may do what in a FanOutIngest, and which events flow: the Event Grid subscription's filter and
 * delivery, the system topic's grants and the Function App's grants, each on exactly one queue or
 * container.
 */
import type * as eventgrid from "@pulumi/azure-native/eventgrid";
import type * as storage from "@pulumi/azure-native/storage";
import type * as pulumi from "@pulumi/pulumi";
import { type BuiltInRole, grantRole } from "../azure/roles";
import { blobSubjectPrefix, CHUNK_SUFFIX } from "../../runtime/fan-out-ingest/layout";

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

/** Where the subscription delivers and dead-letters, and how long it keeps trying. */
export interface ChunkEventDelivery {
  resourceGroupName: pulumi.Input<string>;
  systemTopicName: pulumi.Input<string>;
  chunkContainerName: string;
  /** The data account, which holds the events queue and the dead-letter container. */
  accountId: pulumi.Input<string>;
  eventsQueueName: pulumi.Input<string>;
  deadLetterContainerName: pulumi.Input<string>;
  maxDeliveryCount: number;
  eventTimeToLiveMinutes: number;
}

/**
 * The subscription of chunk BlobCreated events: delivered to the events queue and dead-lettered into
 * the dead-letter container with the topic's own identity, so the data account needs no keys.
 */
export function chunkEventSubscriptionArgs(delivery: ChunkEventDelivery): eventgrid.SystemTopicEventSubscriptionArgs {
  const withTopicIdentity = { type: "SystemAssigned" };
  return {
    resourceGroupName: delivery.resourceGroupName,
    systemTopicName: delivery.systemTopicName,
    eventDeliverySchema: "EventGridSchema",
    filter: chunkCreatedFilter(delivery.chunkContainerName),
    retryPolicy: {
      maxDeliveryAttempts: delivery.maxDeliveryCount,
      eventTimeToLiveInMinutes: delivery.eventTimeToLiveMinutes,
    },
    deliveryWithResourceIdentity: {
      identity: withTopicIdentity,
      destination: {
        endpointType: "StorageQueue",
        resourceId: delivery.accountId,
        queueName: delivery.eventsQueueName,
        // Never expire: an event waiting for a broken ingestion to be fixed must not vanish.
        queueMessageTimeToLiveInSeconds: -1,
      },
    },
    deadLetterWithResourceIdentity: {
      identity: withTopicIdentity,
      deadLetterDestination: {
        endpointType: "StorageBlob",
        resourceId: delivery.accountId,
        blobContainerName: delivery.deadLetterContainerName,
      },
    },
  };
}

/** The system topic's identity may send to the events queue and write dead letters, nothing else. */
export function grantEventGrid(
  name: string,
  principalId: pulumi.Input<string>,
  scopes: { eventsQueue: storage.Queue; deadLetters: storage.BlobContainer },
  opts: pulumi.CustomResourceOptions,
) {
  return [
    grantRole(
      `${name}-topic-events-sender`,
      { principalId, role: "Storage Queue Data Message Sender", scope: scopes.eventsQueue.id },
      opts,
    ),
    grantRole(
      `${name}-topic-dead-letter-writer`,
      { principalId, role: "Storage Blob Data Contributor", scope: scopes.deadLetters.id },
      opts,
    ),
  ];
}

/** The storage the Function App works on, each with the name its grant is called by. */
export interface FunctionAppScopes {
  chunks: storage.BlobContainer;
  eventsQueue: storage.Queue;
  eventsPoisonQueue: storage.Queue;
  targetQueues: { queueName: string; queue: storage.Queue }[];
  poisonQueues: { queueName: string; queue: storage.Queue }[];
}

/**
 * The Function App's identity may read and write chunks, consume the events queue, and send to the
 * events poison queue, the target queues and their poison queues.
 */
export function grantFunctionApp(
  name: string,
  principalId: pulumi.Input<string>,
  scopes: FunctionAppScopes,
  opts: pulumi.CustomResourceOptions,
): void {
  const grant = (grantName: string, role: BuiltInRole, scope: pulumi.Input<string>) =>
    grantRole(`${name}-app-${grantName}`, { principalId, role, scope }, opts);
  grant("chunks", "Storage Blob Data Contributor", scopes.chunks.id);
  // The queue trigger peeks, dequeues, deletes and updates messages (UpdateMessage extends a
  // message's visibility while it is being processed); only Contributor covers all of them.
  grant("events-consumer", "Storage Queue Data Contributor", scopes.eventsQueue.id);
  grant("events-poison-sender", "Storage Queue Data Message Sender", scopes.eventsPoisonQueue.id);
  for (const { queueName, queue } of [...scopes.targetQueues, ...scopes.poisonQueues]) {
    grant(`${queueName}-sender`, "Storage Queue Data Message Sender", queue.id);
  }
}
