/**
 * Blob and Queue clients for the data account, from the app settings of one connection name, the
 * same settings the Functions host reads for the queue trigger:
 * - in Azure, `<name>__blobServiceUri` and `<name>__queueServiceUri` with the app's managed identity
 *   (`<name>__clientId` selects a user-assigned one), so no key is ever stored;
 * - `<name>` holding a connection string, for local emulators such as Azurite.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";

export interface StorageClients {
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
}

/**
 * Storage answers 503 ServerBusy when a queue or account passes its scalability target; the SDK's
 * exponential retry absorbs that, with more tries than its default 4 because a fan-out saturates
 * targets on purpose.
 */
const PIPELINE = {
  retryOptions: { maxTries: 8, retryDelayInMs: 250, maxRetryDelayInMs: 16_000 },
};

export function storageClients(connection: string, env: NodeJS.ProcessEnv = process.env): StorageClients {
  const connectionString = env[connection];
  if (connectionString) {
    return {
      blobs: BlobServiceClient.fromConnectionString(connectionString, PIPELINE),
      queues: QueueServiceClient.fromConnectionString(connectionString, PIPELINE),
    };
  }
  const blobServiceUri = env[`${connection}__blobServiceUri`];
  const queueServiceUri = env[`${connection}__queueServiceUri`];
  if (!blobServiceUri || !queueServiceUri) {
    throw new Error(
      `Storage connection "${connection}" is not configured: set ${connection}__blobServiceUri and ` +
        `${connection}__queueServiceUri (managed identity) or ${connection} (a connection string, for local emulators).`,
    );
  }
  const credential = new DefaultAzureCredential({ managedIdentityClientId: env[`${connection}__clientId`] });
  return {
    blobs: new BlobServiceClient(blobServiceUri, credential, PIPELINE),
    queues: new QueueServiceClient(queueServiceUri, credential, PIPELINE),
  };
}
