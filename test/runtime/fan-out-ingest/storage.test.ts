/**
 * The chunking and ingestion runtime against Azurite, called directly (the built artifact is
 * exercised in artifact.test.ts). Small numbers: each test is about one behaviour.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BlobServiceClient, type ContainerClient, RestError } from "@azure/storage-blob";
import { type QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { type ChunkingOptions, readManifest, writeRun } from "../../../runtime/fan-out-ingest/chunking";
import {
  defaultMessageText,
  type IngestionOptions,
  ingestChunk,
  ingestEvent,
  MAX_MESSAGE_BYTES,
  queueIndexFor,
} from "../../../runtime/fan-out-ingest/ingestion";
import type { MessageEncoding } from "../../../runtime/fan-out-ingest/contract";
import { CHUNK_METADATA, chunkBlobName } from "../../../runtime/fan-out-ingest/layout";
import { RejectMessage } from "../../../runtime/shared/reject-message";
import { type Azurite, useAzurite } from "../../../testing/emulators";
import { blobCreatedEvent, idAt, receiveAll } from "../../harness/rigs/fan-out";

let azurite: Azurite;
let blobs: BlobServiceClient;
let queues: QueueServiceClient;
let counter = 0;

before(async () => {
  azurite = await useAzurite();
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
});
after(async () => azurite.stop());

/** A fresh container, so tests never see each other's blobs. */
async function freshContainer(): Promise<ContainerClient> {
  const container = blobs.getContainerClient(`rt-chunks-${process.pid}-${++counter}`);
  await container.create();
  return container;
}

async function freshQueue(label: string): Promise<QueueClient> {
  const queue = queues.getQueueClient(`rt-${label}-${process.pid}-${++counter}`);
  await queue.create();
  return queue;
}

const ids = (count: number, from = 1) => Array.from({ length: count }, (_, i) => idAt(from + i));

async function* generate(count: number) {
  for (let position = 1; position <= count; position++) yield idAt(position);
}

const run = (runId: string) => ({ runId, trigger: "http" as const, parameters: {} });
const chunking: ChunkingOptions = { chunkSize: 5000, uploadConcurrency: 4 };

async function readChunk(
  container: ContainerClient,
  name: string,
): Promise<{ items: string[]; metadata: Record<string, string> }> {
  const blob = container.getBlockBlobClient(name);
  const items = JSON.parse((await blob.downloadToBuffer()).toString("utf8"));
  return { items, metadata: (await blob.getProperties()).metadata ?? {} };
}

async function ingestionOptions(
  overrides: Partial<IngestionOptions> & { queueCount?: number } = {},
): Promise<IngestionOptions> {
  const { queueCount = 1, ...rest } = overrides;
  const targetQueues: QueueClient[] = [];
  const poisonQueues: QueueClient[] = [];
  for (let i = 0; i < queueCount; i++) {
    targetQueues.push(await freshQueue("target"));
    poisonQueues.push(await freshQueue("poison"));
  }
  return {
    chunkContainer: "unused",
    targetQueues,
    poisonQueues,
    eventsPoisonQueue: await freshQueue("events-poison"),
    concurrency: 8,
    checkpointEvery: 100,
    messageEncoding: "base64",
    ...rest,
  };
}

async function writeChunk(
  container: ContainerClient,
  items: unknown[],
  metadata: Record<string, string> = {},
): Promise<string> {
  const name = chunkBlobName("run", ++counter);
  const body = JSON.stringify(items);
  await container
    .getBlockBlobClient(name)
    .upload(body, Buffer.byteLength(body), { metadata: { [CHUNK_METADATA.items]: String(items.length), ...metadata } });
  return name;
}

const decodedAll = (queue: QueueClient, encoding: MessageEncoding = "base64") => receiveAll(queue, encoding);

describe("chunking", () => {
  it("streams 12,345 items into chunks of 5000 and writes the manifest with the totals", async () => {
    const container = await freshContainer();
    const result = await writeRun(container, run("r1"), () => generate(12_345), chunking);
    assert.equal(result.manifest.items, 12_345);
    assert.equal(result.manifest.chunks, 3);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names, [
      "r1/000001.chunk.json",
      "r1/000002.chunk.json",
      "r1/000003.chunk.json",
      "r1/manifest.json",
    ]);
    const last = await readChunk(container, "r1/000003.chunk.json");
    assert.deepEqual(last.items, ids(2345, 10_001));
    assert.equal(last.metadata.items, "2345");
    assert.deepEqual(await readManifest(container, "r1"), result.manifest);
  });

  it("keeps the chunks an earlier attempt of the same run wrote, so they are not ingested again", async () => {
    const container = await freshContainer();
    async function* failsAfter7000() {
      yield* generate(7000);
      throw new Error("API timed out");
    }
    await assert.rejects(writeRun(container, run("r2"), failsAfter7000, chunking), /API timed out/);
    const firstEtag = (await container.getBlockBlobClient("r2/000001.chunk.json").getProperties()).etag;
    assert.equal(await readManifest(container, "r2"), undefined, "no manifest for a failed run");

    const retry = await writeRun(container, run("r2"), () => generate(12_000), chunking);
    assert.equal(retry.existingChunks, 1);
    assert.equal(retry.manifest.chunks, 3);
    assert.equal((await container.getBlockBlobClient("r2/000001.chunk.json").getProperties()).etag, firstEtag);
  });

  it("returns the manifest of a finished run without reading the source again", async () => {
    const container = await freshContainer();
    await writeRun(container, run("r3"), () => generate(10), chunking);
    let read = false;
    const again = await writeRun(
      container,
      run("r3"),
      () => {
        read = true;
        return generate(10);
      },
      chunking,
    );
    assert.equal(again.alreadyComplete, true);
    assert.equal(again.manifest.items, 10);
    assert.equal(read, false);
  });

  it("holds at most uploadConcurrency + 1 chunks: the source waits while every upload is busy", async () => {
    let pulled = 0;
    const releases: (() => void)[] = [];
    const fakeContainer = {
      getBlockBlobClient: () => ({
        downloadToBuffer: async () => {
          throw new RestError("not found", { statusCode: 404 });
        },
        upload: () => new Promise<void>((resolve) => releases.push(resolve)),
      }),
    } as unknown as ContainerClient;
    async function* counted() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    const writing = writeRun(fakeContainer, run("r4"), counted, { chunkSize: 10, uploadConcurrency: 2 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(releases.length, 2, "two uploads in flight");
    assert.ok(pulled <= 3 * 10, `pulled ${pulled} items while both uploads were blocked`);
    const drain = setInterval(() => releases.splice(0).forEach((release) => release()), 1);
    try {
      assert.equal((await writing).manifest.chunks, 100);
    } finally {
      clearInterval(drain);
    }
  });

  it("fails naming the problem when the source returns no iterable", async () => {
    const container = await freshContainer();
    await assert.rejects(
      writeRun(container, run("r5"), () => 42 as never, chunking),
      {
        message: "source returned number; it must return an async iterable (e.g. an async generator) or an iterable.",
      },
    );
  });

  it("fails naming the position of an undefined item", async () => {
    const container = await freshContainer();
    await assert.rejects(
      writeRun(container, run("r6"), () => ["a", undefined, "c"], chunking),
      {
        message: "source yielded undefined as item 2 of run r6; yield JSON values.",
      },
    );
  });
});

describe("ingestion", () => {
  it("enqueues every item of a chunk exactly once and checkpoints the whole chunk", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions();
    const chunk = await writeChunk(container, ids(1000));
    const report = await ingestChunk(container, chunk, defaultMessageText, options);
    assert.deepEqual(report, { chunk, items: 1000, resumedFrom: 0, sent: 1000, poisoned: 0, outcome: "completed" });
    assert.deepEqual((await decodedAll(options.targetQueues[0])).sort(), ids(1000));
    const { metadata } = await readChunk(container, chunk);
    assert.equal(metadata.ingested, "1000");
  });

  it("resumes from the checkpoint, sending only the messages after it", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions();
    const chunk = await writeChunk(container, ids(1000), { [CHUNK_METADATA.ingested]: "600" });
    const report = await ingestChunk(container, chunk, defaultMessageText, options);
    assert.equal(report.resumedFrom, 600);
    assert.equal(report.sent, 400);
    assert.deepEqual((await decodedAll(options.targetQueues[0])).sort(), ids(400, 601));
  });

  it("sends nothing for a chunk an earlier invocation completed", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions();
    const chunk = await writeChunk(container, ids(50), { [CHUNK_METADATA.ingested]: "50" });
    const report = await ingestChunk(container, chunk, defaultMessageText, options);
    assert.equal(report.outcome, "already-complete");
    assert.deepEqual(await decodedAll(options.targetQueues[0]), []);
  });

  it("fails after one interval, to be retried from the checkpoint, when another invocation checkpointed meanwhile", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ checkpointEvery: 100 });
    const chunk = await writeChunk(container, ids(1000));
    let concurrentCheckpoint: Promise<unknown> | undefined;
    const toMessage = (item: unknown) => {
      // Plays the other invocation: it checkpoints the same chunk while this one sends its first interval.
      concurrentCheckpoint ??= container.getBlockBlobClient(chunk).setMetadata({ items: "1000", ingested: "100" });
      return item;
    };
    await assert.rejects(ingestChunk(container, chunk, toMessage, options), {
      message: `chunk ${chunk}: another invocation checkpointed it at 100/1000 while this one sent 0..100; failing so the event is retried from the checkpoint`,
    });
    await concurrentCheckpoint;
    assert.equal((await decodedAll(options.targetQueues[0])).length, 100, "only the interval in flight was sent");

    const retry = await ingestChunk(container, chunk, defaultMessageText, options);
    assert.deepEqual([retry.outcome, retry.resumedFrom, retry.sent], ["completed", 100, 900]);
  });

  it("returns without failing when another invocation completed the chunk meanwhile", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ checkpointEvery: 100 });
    const chunk = await writeChunk(container, ids(1000));
    let concurrentCheckpoint: Promise<unknown> | undefined;
    const toMessage = (item: unknown) => {
      concurrentCheckpoint ??= container.getBlockBlobClient(chunk).setMetadata({ items: "1000", ingested: "1000" });
      return item;
    };
    const report = await ingestChunk(container, chunk, toMessage, options);
    await concurrentCheckpoint;
    assert.deepEqual([report.outcome, report.sent], ["yielded", 100]);
  });

  it("carries on with the whole chunk when its own checkpoint succeeded but the response was lost and the retry got 412", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ checkpointEvery: 100 });
    const chunk = await writeChunk(container, ids(1000));
    const blob = container.getBlockBlobClient(chunk);
    let writes = 0;
    const retryStatuses: (number | undefined)[] = [];
    // Plays the SDK's retry of the first checkpoint, whose response was lost: the write lands, then
    // the same request (same If-Match ETag) is sent again and the service answers 412.
    const lossyBlob = Object.assign(Object.create(blob), {
      setMetadata: async (...args: Parameters<typeof blob.setMetadata>) => {
        if (writes++ > 0) return blob.setMetadata(...args);
        await blob.setMetadata(...args);
        return blob.setMetadata(...args).catch((error: RestError) => {
          retryStatuses.push(error.statusCode);
          throw error;
        });
      },
    });
    const lossyContainer = Object.assign(Object.create(container), { getBlockBlobClient: () => lossyBlob });
    const report = await ingestChunk(lossyContainer, chunk, defaultMessageText, options);
    assert.deepEqual(retryStatuses, [412]);
    assert.deepEqual([report.outcome, report.sent], ["completed", 1000]);
    assert.deepEqual((await decodedAll(options.targetQueues[0])).sort(), ids(1000));
    assert.equal((await readChunk(container, chunk)).metadata.ingested, "1000");
  });

  it("poisons a message whose base64 form passes 64 KiB, with the reason, and sends the rest", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions();
    const fits = "a".repeat((MAX_MESSAGE_BYTES / 4) * 3); // 49,152 bytes -> exactly 65,536 in base64
    const tooBig = `${fits}b`;
    const chunk = await writeChunk(container, ["small", tooBig, fits]);
    const report = await ingestChunk(container, chunk, defaultMessageText, options);
    assert.equal(report.sent, 2);
    assert.equal(report.poisoned, 1);
    assert.deepEqual(
      (await decodedAll(options.targetQueues[0])).map((text) => text.length).sort((a, b) => a - b),
      [5, fits.length],
    );
    const [poisoned] = (await decodedAll(options.poisonQueues[0])).map((text) => JSON.parse(text));
    assert.equal(poisoned.reason, "message is 65540 bytes base64-encoded; Storage Queue allows 65536");
    assert.equal(poisoned.chunk, chunk);
    assert.equal(poisoned.index, 1);
    assert.equal(poisoned.queue, options.targetQueues[0].name);
    assert.equal(poisoned.messageBytes, 65540);
    assert.equal(poisoned.preview, `${"a".repeat(1024)}… (${tooBig.length} characters)`);
    assert.equal((await readChunk(container, chunk)).metadata.poisoned, "1");
  });

  it("sends target messages and poison records that never expire (no 7-day default time to live)", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ chunkContainer: container.containerName });
    const chunk = await writeChunk(container, ["small", "a".repeat(MAX_MESSAGE_BYTES)]);
    await ingestEvent(container, blobCreatedEvent(container.containerName, chunk), defaultMessageText, options);
    await ingestEvent(
      container,
      blobCreatedEvent(container.containerName, "r/manifest.json"),
      defaultMessageText,
      options,
    );
    const expiryYears = async (queue: QueueClient) =>
      (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.expiresOn.getUTCFullYear());
    assert.deepEqual(await expiryYears(options.targetQueues[0]), [9999]);
    assert.deepEqual(await expiryYears(options.poisonQueues[0]), [9999]);
    assert.deepEqual(await expiryYears(options.eventsPoisonQueue), [9999]);
  });

  it("counts the text's UTF-8 bytes, not its characters, against the limit with encoding none", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ messageEncoding: "none" });
    const multibyte = "é".repeat(MAX_MESSAGE_BYTES / 2 + 1); // 32,769 characters, 65,538 bytes
    const chunk = await writeChunk(container, [
      "a".repeat(MAX_MESSAGE_BYTES),
      multibyte,
      "a".repeat(MAX_MESSAGE_BYTES + 1),
    ]);
    const report = await ingestChunk(container, chunk, defaultMessageText, { ...options, concurrency: 1 });
    assert.deepEqual([report.sent, report.poisoned], [1, 2]);
    const reasons = (await decodedAll(options.poisonQueues[0], "none")).map((text) => JSON.parse(text).reason).sort();
    assert.deepEqual(reasons, [
      "message is 65537 bytes as text; Storage Queue allows 65536",
      "message is 65538 bytes as text; Storage Queue allows 65536",
    ]);
  });

  it("poisons an item toMessage throws for, with the error, and sends the rest", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions();
    const chunk = await writeChunk(container, [{ id: 1 }, { id: "bad" }, { id: 3 }]);
    const toMessage = (item: unknown) => {
      const { id } = item as { id: unknown };
      if (typeof id !== "number") throw new TypeError(`id ${JSON.stringify(id)} is not a number`);
      return { id, kind: "refresh" };
    };
    const report = await ingestChunk(container, chunk, toMessage as (item: unknown) => unknown, options);
    assert.deepEqual([report.sent, report.poisoned], [2, 1]);
    assert.deepEqual((await decodedAll(options.targetQueues[0])).sort(), [
      '{"id":1,"kind":"refresh"}',
      '{"id":3,"kind":"refresh"}',
    ]);
    const [poisoned] = (await decodedAll(options.poisonQueues[0])).map((text) => JSON.parse(text));
    assert.deepEqual(poisoned, {
      reason: 'toMessage failed: id "bad" is not a number',
      chunk,
      index: 1,
      item: '{"id":"bad"}',
      queue: options.targetQueues[0].name,
    });
  });

  it("poisons an item toMessage rejects with RejectMessage, with the reason it gave", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions();
    const chunk = await writeChunk(container, [{ id: 1 }, { id: -2 }]);
    const toMessage = (item: unknown) => {
      const { id } = item as { id: number };
      if (id < 0) throw new RejectMessage(`id ${id} is negative`);
      return { id };
    };
    const report = await ingestChunk(container, chunk, toMessage as (item: unknown) => unknown, options);
    assert.deepEqual([report.sent, report.poisoned], [1, 1]);
    const [poisoned] = (await decodedAll(options.poisonQueues[0])).map((text) => JSON.parse(text));
    assert.equal(poisoned.reason, "toMessage rejected the item: id -2 is negative");
  });

  it("poisons a message the queue service rejects as invalid (4xx) and sends the rest", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ messageEncoding: "none" });
    const sent: string[] = [];
    const rejecting = {
      name: "fake-target",
      sendMessage: async (text: string) => {
        if (text.includes("\u0001")) throw new RestError("XML", { statusCode: 400, code: "InvalidXmlDocument" });
        sent.push(text);
      },
    } as unknown as QueueClient;
    const chunk = await writeChunk(container, ["ok-1", "bad-\u0001", "ok-2"]);
    const report = await ingestChunk(container, chunk, defaultMessageText, { ...options, targetQueues: [rejecting] });
    assert.deepEqual([report.sent, report.poisoned], [2, 1]);
    const [poisoned] = (await decodedAll(options.poisonQueues[0], "none")).map((text) => JSON.parse(text));
    assert.equal(poisoned.reason, "Storage Queue rejected the message: 400 InvalidXmlDocument");
  });

  it("fails the invocation, to be retried from the checkpoint, when the queue service fails (5xx)", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ checkpointEvery: 10 });
    let calls = 0;
    const failing = {
      name: "flaky",
      sendMessage: async () => {
        if (++calls > 15) throw new RestError("busy", { statusCode: 503, code: "ServerBusy" });
      },
    } as unknown as QueueClient;
    const chunk = await writeChunk(container, ids(40));
    await assert.rejects(
      ingestChunk(container, chunk, defaultMessageText, { ...options, concurrency: 1, targetQueues: [failing] }),
      /busy/,
    );
    assert.equal((await readChunk(container, chunk)).metadata.ingested, "10");
  });

  it("spreads messages over queueCount queues by the stable hash of their text", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ queueCount: 3 });
    const chunk = await writeChunk(container, ids(300));
    await ingestChunk(container, chunk, defaultMessageText, options);
    for (const [index, queue] of options.targetQueues.entries()) {
      const texts = await decodedAll(queue);
      assert.ok(texts.length > 60, `queue ${index} got ${texts.length}`);
      assert.ok(texts.every((text) => queueIndexFor(text, 3) === index));
    }
  });

  it("sends an event for a chunk that no longer exists to the events poison queue with the reason", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ chunkContainer: container.containerName });
    const event = blobCreatedEvent(container.containerName, "gone/000001.chunk.json");
    const report = await ingestEvent(container, event, defaultMessageText, options);
    assert.equal(report.outcome, "rejected");
    const [record] = (await decodedAll(options.eventsPoisonQueue, "none")).map((text) => JSON.parse(text));
    assert.equal(record.reason, "chunk gone/000001.chunk.json does not exist (deleted before it was ingested?)");
    assert.deepEqual(JSON.parse(record.event), event);
  });

  it("sends an event for the run manifest to the events poison queue instead of ingesting it", async () => {
    const container = await freshContainer();
    const options = await ingestionOptions({ chunkContainer: container.containerName });
    const event = blobCreatedEvent(container.containerName, "r/manifest.json");
    const report = await ingestEvent(container, event, defaultMessageText, options);
    assert.equal(report.problem, "blob r/manifest.json is not a chunk (*.chunk.json)");
    assert.equal((await decodedAll(options.eventsPoisonQueue, "none")).length, 1);
  });
});
