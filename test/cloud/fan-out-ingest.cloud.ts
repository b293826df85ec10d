/**
 * FanOutIngest against a deployed stack in Azure (`npm run test:cloud`; not part of `npm test`).
 *
 * What no emulator can show: the form in which Event Grid's Storage Queue destination stores a
 * BlobCreated event (JSON text per the quickstart, base64 per user reports and Microsoft's SDK
 * samples; azurite has no Event Grid). The local tests feed both forms; this test writes a real chunk
 * blob and checks that the deployed ingestion function, fed by the real Event Grid subscription,
 * ingests it and poisons no event, whichever form Event Grid used.
 *
 * Needs:
 * - FANOUT_STORAGE_ACCOUNT: the stack's data account (the component's `storageAccountName` output);
 * - optional FANOUT_CHUNK_CONTAINER (default "chunks") when the component was given `chunkContainerName`;
 * - an identity DefaultAzureCredential finds with "Storage Blob Data Contributor" on the chunk
 *   container and "Storage Queue Data Reader" on the `chunk-events-poison` queue.
 * The chunk holds three `cloud-probe-<uuid>-<n>` items: they reach the stack's target queue(s) like
 * any other, so run this against a development stack. Without FANOUT_STORAGE_ACCOUNT it is skipped.
 */
import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { DefaultAzureCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { EVENTS_QUEUE, FAN_OUT_DEFAULTS, poisonQueueName } from "../../components/fan-out-ingest";
import { CHUNK_METADATA, chunkBlobName } from "../../runtime/fan-out-ingest/layout";

const account = process.env.FANOUT_STORAGE_ACCOUNT;
const chunkContainer = process.env.FANOUT_CHUNK_CONTAINER ?? FAN_OUT_DEFAULTS.chunkContainerName;
const skip = account
  ? false
  : "set FANOUT_STORAGE_ACCOUNT to a deployed FanOutIngest's data account (its storageAccountName output) and sign in with Blob Data Contributor on its chunk container";
/** Event Grid delivery plus a Flex cold start of the ingestion function. */
const INGESTION_DEADLINE_MS = 5 * 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("FanOutIngest on Azure: Event Grid -> Storage Queue -> ingestion", { skip, timeout: 10 * 60_000 }, () => {
  it("ingests a chunk written to the deployed account, whatever form Event Grid stored its event in, and poisons no event", async () => {
    const credential = new DefaultAzureCredential();
    const container = new BlobServiceClient(`https://${account}.blob.core.windows.net`, credential).getContainerClient(
      chunkContainer,
    );
    const eventsPoison = new QueueServiceClient(`https://${account}.queue.core.windows.net`, credential).getQueueClient(
      poisonQueueName(EVENTS_QUEUE),
    );
    const runId = `cloud-probe-${randomUUID()}`;
    const items = [1, 2, 3].map((n) => `${runId}-${n}`);
    const blob = container.getBlockBlobClient(chunkBlobName(runId, 1));
    const body = JSON.stringify(items);
    await blob.upload(body, Buffer.byteLength(body), { metadata: { [CHUNK_METADATA.items]: String(items.length) } });
    try {
      const deadline = Date.now() + INGESTION_DEADLINE_MS;
      let ingested: string | undefined;
      while (Date.now() < deadline) {
        ingested = (await blob.getProperties()).metadata?.[CHUNK_METADATA.ingested];
        if (ingested === String(items.length)) break;
        await sleep(10_000);
      }
      const { peekedMessageItems } = await eventsPoison.peekMessages({ numberOfMessages: 32 });
      const ours = peekedMessageItems.map((m) => m.messageText).filter((text) => text.includes(runId));
      assert.deepEqual(ours, [], "no event of this chunk in the events poison queue");
      assert.equal(ingested, String(items.length), `the chunk's checkpoint after ${INGESTION_DEADLINE_MS / 1000} s`);
    } finally {
      await blob.deleteIfExists();
    }
  });
});
