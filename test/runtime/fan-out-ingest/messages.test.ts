import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  chunkOfEvent,
  decodeMessage,
  defaultMessageText,
  encodeMessage,
  queueIndexFor,
} from "../../../runtime/fan-out-ingest/ingestion";
import {
  chunkBlobName,
  manifestBlobName,
  newRunId,
  RUN_ID_PATTERN,
  timerRunId,
} from "../../../runtime/fan-out-ingest/layout";
import { storageClients } from "../../../runtime/fan-out-ingest/storage-clients";
import { blobCreatedEvent, eventGridQueueMessage } from "../../harness/rigs/fan-out";

describe("chunk layout", () => {
  it("names chunks <runId>/<6-digit number>.chunk.json so a run's chunks list in order", () => {
    assert.equal(chunkBlobName("run-1", 1), "run-1/000001.chunk.json");
    assert.equal(chunkBlobName("run-1", 20), "run-1/000020.chunk.json");
  });

  it("names the manifest so it does not end like a chunk", () => {
    assert.equal(manifestBlobName("run-1"), "run-1/manifest.json");
    assert.ok(!manifestBlobName("run-1").endsWith(".chunk.json"));
  });

  it("generates run ids that are valid blob path segments and sort by time", () => {
    const earlier = newRunId(new Date("2025-01-01T00:00:00Z"));
    const later = newRunId(new Date("2025-01-01T00:00:01Z"));
    assert.match(earlier, RUN_ID_PATTERN);
    assert.match(earlier, /^2025-01-01T00-00-00-000Z-[0-9a-f]{6}$/);
    assert.ok(earlier < later);
  });
});

describe("BlobCreated events", () => {
  it("name the chunk blob from the subject of an Event Grid schema event", () => {
    assert.deepEqual(chunkOfEvent(blobCreatedEvent("chunks", "r/000001.chunk.json"), "chunks"), {
      blobName: "r/000001.chunk.json",
    });
  });

  it("are accepted as JSON text, the form the Event Grid quickstart says a Storage Queue gets (custom-event-to-queue-storage)", () => {
    const text = eventGridQueueMessage(blobCreatedEvent("chunks", "r/000002.chunk.json"), "json-text");
    assert.deepEqual(chunkOfEvent(text, "chunks"), { blobName: "r/000002.chunk.json" });
    assert.deepEqual(chunkOfEvent(Buffer.from(text), "chunks"), { blobName: "r/000002.chunk.json" });
  });

  it("are accepted base64-encoded, the form users and Microsoft's SDK samples report (azure-docs #102923)", () => {
    const base64 = eventGridQueueMessage(blobCreatedEvent("chunks", "r/000003.chunk.json"), "base64");
    assert.deepEqual(chunkOfEvent(base64, "chunks"), { blobName: "r/000003.chunk.json" });
    assert.deepEqual(chunkOfEvent(Buffer.from(base64), "chunks"), { blobName: "r/000003.chunk.json" });
  });

  it("name no chunk for the run manifest", () => {
    assert.deepEqual(chunkOfEvent(blobCreatedEvent("chunks", "r/manifest.json"), "chunks"), {
      problem: "blob r/manifest.json is not a chunk (*.chunk.json)",
    });
  });

  it("name no chunk for a blob of another container", () => {
    assert.deepEqual(chunkOfEvent(blobCreatedEvent("other", "r/000001.chunk.json"), "chunks"), {
      problem:
        'subject "/blobServices/default/containers/other/blobs/r/000001.chunk.json" is not a blob in container chunks',
    });
  });

  it("name no chunk for another event type", () => {
    const deleted = {
      ...blobCreatedEvent("chunks", "r/000001.chunk.json"),
      eventType: "Microsoft.Storage.BlobDeleted",
    };
    assert.deepEqual(chunkOfEvent(deleted, "chunks"), {
      problem: 'event type "Microsoft.Storage.BlobDeleted" is not Microsoft.Storage.BlobCreated',
    });
  });

  it("name no chunk for a message that is neither JSON nor base64 of JSON", () => {
    const problem = "the queue message is neither JSON nor base64-encoded JSON; expected an Event Grid event";
    assert.deepEqual(chunkOfEvent("not json", "chunks"), { problem });
    assert.deepEqual(chunkOfEvent(Buffer.from("bm90IGpzb24=", "utf8"), "chunks"), { problem }, "base64 of 'not json'");
  });
});

describe("message text", () => {
  it("is base64 of the UTF-8 text when encoded for a Functions queue trigger, and decodes back", () => {
    assert.equal(encodeMessage("héllo", "base64"), Buffer.from("héllo", "utf8").toString("base64"));
    assert.equal(decodeMessage(encodeMessage("héllo", "base64"), "base64"), "héllo");
  });

  it("is stored as is with encoding none", () => {
    assert.equal(encodeMessage('{"id":1}', "none"), '{"id":1}');
  });

  it("defaults to the item itself for strings and to JSON for anything else", () => {
    assert.equal(defaultMessageText("id-1"), "id-1");
    assert.equal(defaultMessageText({ id: 1 }), '{"id":1}');
    assert.equal(defaultMessageText(42), "42");
  });
});

describe("the stable hash that spreads messages over queues", () => {
  it("sends everything to queue 0 when there is one queue", () => {
    assert.equal(queueIndexFor("anything", 1), 0);
  });

  it("always picks the same queue for the same message", () => {
    assert.equal(queueIndexFor("id-0000042", 4), queueIndexFor("id-0000042", 4));
    assert.equal(queueIndexFor("id-0000042", 4), 3);
  });

  it("spreads 100,000 sequential ids within 3% of even over 4 queues", () => {
    const counts = [0, 0, 0, 0];
    for (let i = 1; i <= 100_000; i++) counts[queueIndexFor(`id-${String(i).padStart(7, "0")}`, 4)]++;
    for (const count of counts) assert.ok(Math.abs(count - 25_000) < 750, `counts ${counts}`);
  });
});

describe("storage clients", () => {
  it("explain which settings are missing when neither identity endpoints nor a connection string are set", () => {
    assert.throws(() => storageClients("FanOutStorage", {}), {
      message:
        'Storage connection "FanOutStorage" is not configured: set FanOutStorage__blobServiceUri and FanOutStorage__queueServiceUri ' +
        "(managed identity) or FanOutStorage (a connection string, for local emulators).",
    });
  });

  it("use the identity endpoints with a token credential when no connection string is set", () => {
    const clients = storageClients("FanOutStorage", {
      FanOutStorage__blobServiceUri: "https://acct.blob.core.windows.net/",
      FanOutStorage__queueServiceUri: "https://acct.queue.core.windows.net/",
    });
    assert.equal(clients.blobs.url, "https://acct.blob.core.windows.net/");
    assert.equal(clients.queues.url, "https://acct.queue.core.windows.net/");
    assert.equal(
      (clients.queues as unknown as { credential: object }).credential.constructor.name,
      "DefaultAzureCredential",
    );
  });
});

describe("timer run ids", () => {
  const DAILY = "0 0 2 * * *";
  const firing = {
    isPastDue: false,
    scheduleStatus: { last: "2025-01-01T02:00:00.000Z", next: "2025-01-02T02:00:00.000Z" },
  };

  it("names a timer run after the firing's scheduled time, a valid run id", () => {
    const runId = timerRunId(firing, DAILY, new Date("2025-01-02T02:00:00.412Z"));
    assert.equal(runId, "2025-01-02T02-00-00-000Z-timer");
    assert.match(runId, RUN_ID_PATTERN);
  });

  it("gives the same firing invoked again as past due the same run id, so it resumes that run", () => {
    const first = timerRunId(firing, DAILY, new Date("2025-01-02T02:00:00.412Z"));
    const sameFiringPastDue = { ...firing, isPastDue: true };
    const pastDue = timerRunId(sameFiringPastDue, DAILY, new Date("2025-01-02T02:17:31.000Z"));
    assert.equal(pastDue, first);
  });

  it("uses the current time truncated to the minute when the host keeps no schedule status", () => {
    assert.equal(timerRunId({}, DAILY, new Date("2025-01-02T02:00:04.900Z")), "2025-01-02T02-00-00-000Z-timer");
  });

  it("uses the current time when the status's next firing lies ahead (a run at startup)", () => {
    assert.equal(timerRunId(firing, DAILY, new Date("2025-01-01T09:30:20.000Z")), "2025-01-01T09-30-00-000Z-timer");
  });

  it("truncates to the second for a schedule that fires more than once a minute", () => {
    assert.equal(
      timerRunId(null, "*/10 * * * * *", new Date("2025-01-02T02:00:10.250Z")),
      "2025-01-02T02-00-10-000Z-timer",
    );
  });
});
