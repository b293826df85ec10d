/**
 * The Function App artifact a FanOutIngest deploys, unpacked into an empty folder and run in its own
 * Node.js process against Azurite, fed the way Azure feeds it: the chunking function through its HTTP
 * trigger, the ingestion function with BlobCreated events in the Event Grid schema, delivered through
 * the events queue by the stand-ins in test/harness/rigs/fan-out.ts.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { installMocks, type RecordedResource, resolve } from "../../../testing/mocks";

const recorder = installMocks({
  "azure-native:eventgrid:getSystemTopic": (inputs) => ({
    name: inputs.systemTopicName,
    identity: { type: "SystemAssigned", principalId: "topic-principal" },
  }),
});

import { zipBytes } from "../../../components/core/artifact";
import { FanOutIngest, type FanOutIngestArgs } from "../../../components/fan-out-ingest";
import { CHUNK_METADATA } from "../../../runtime/fan-out-ingest/layout";
import { ArtifactProcess } from "../../../testing/artifact-runner";
import { nodeBuild } from "../../harness/node-builds";
import { type Azurite, startAzurite, useAzurite } from "../../../testing/emulators";
import {
  blobCreatedEvent,
  buildFanOutArtifact,
  completeness,
  idAt,
  type IdServer,
  type LocalFanOut,
  pagedIdSource,
  publishBlobCreatedEvents,
  type QueueRecorder,
  receiveAll,
  runQueueTrigger,
  startIdServer,
  startLocalFanOut,
  startQueueRecorder,
  startRun,
  storedMessageCount,
  type SubscriptionFilter,
  type TriggerResult,
} from "../../harness/rigs/fan-out";

let azurite: Azurite;
before(async () => {
  azurite = await useAzurite();
});
after(async () => azurite.stop());

/** The deployed component's artifact, and the Event Grid filter it subscribed with. */
async function deployed<TItem>(name: string, args: FanOutIngestArgs<TItem>) {
  const component = new FanOutIngest<TItem>(name, { systemTopic: { existing: "data-topic" }, ...args });
  const artifact = await resolve(component.functionApp.artifact);
  await resolve(component.eventSubscription.id);
  await recorder.settle();
  const subscription: RecordedResource = recorder.named(
    "azure-native:eventgrid:SystemTopicEventSubscription",
    `${name}-chunk-created`,
  );
  return { artifact, filter: subscription.inputs.filter as SubscriptionFilter };
}

describe("the artifact the component deploys", () => {
  it("is the artifact the local scenario and benchmark build, byte for byte", async () => {
    const args = {
      source: pagedIdSource("http://127.0.0.1:1"),
      queueName: "same-ids",
      chunkContainerName: "same-chunks",
    };
    const { artifact } = await deployed("same", args);
    assert.equal((await buildFanOutArtifact("same", args)).sha256, artifact.sha256);
  });

  it("registers POST /api/runs with function keys, the queue trigger on the events queue, and the timer when scheduled", async () => {
    const { artifact } = await deployed("registered", {
      source: pagedIdSource("http://127.0.0.1:1"),
      schedule: "0 0 2 * * *",
    });
    const runner = await ArtifactProcess.start(zipBytes(artifact), "azure-functions", {}, nodeBuild);
    try {
      const bindings = Object.fromEntries(
        (await runner.registrations()).map((r) => [
          r.name,
          Object.values(r.bindings).find((b) => b.direction === "in"),
        ]),
      );
      assert.deepEqual(Object.keys(bindings).sort(), ["chunk", "chunkOnSchedule", "ingest"]);
      const deployment = recorder.named(
        "pulumi-nodejs:dynamic/queue-patterns:FlexDeployment",
        "registered-functions-code",
      );
      assert.deepEqual(
        [...deployment.inputs.functionNames].sort(),
        Object.keys(bindings).sort(),
        "the deployment waits for exactly the functions the artifact registers",
      );
      assert.deepEqual(
        [bindings.chunk?.type, bindings.chunk?.authLevel, bindings.chunk?.methods, bindings.chunk?.route],
        ["httpTrigger", "function", ["POST"], "runs"],
      );
      assert.deepEqual(
        [bindings.ingest?.type, bindings.ingest?.queueName, bindings.ingest?.connection],
        ["queueTrigger", "chunk-events", "FanOutStorage"],
      );
      assert.deepEqual(
        [bindings.chunkOnSchedule?.type, bindings.chunkOnSchedule?.schedule],
        ["timerTrigger", "0 0 2 * * *"],
      );
    } finally {
      await runner.stop();
    }
  });
});

describe("100,000 ids from a paginated API through the fan-out (one run)", () => {
  const TOTAL = 100_000;
  const args = { queueName: "e2e-ids", chunkContainerName: "e2e-chunks" };
  const runId = `e2e-${Date.now()}`;
  // An Azurite of its own, stopped with the messages still in it: 100,000 stored messages slow every
  // queue call of a shared Azurite (it scans them all), and clearing them starts minutes of
  // background sweeping that would slow every test after this one.
  let ownAzurite: Azurite;
  let api: IdServer;
  let recorderProxy: QueueRecorder;
  let local: LocalFanOut;
  let manifest: { items: number; chunks: number };
  let events: { delivered: string[]; filteredOut: string[] };
  let trigger: TriggerResult;

  before(async () => {
    ownAzurite = await startAzurite();
    api = await startIdServer(TOTAL);
    recorderProxy = await startQueueRecorder(ownAzurite.queueEndpoint);
    const fullArgs = { ...args, source: pagedIdSource(api.url) };
    const { artifact, filter } = await deployed("e2e", fullArgs);
    local = await startLocalFanOut(ownAzurite, artifact, fullArgs, { queueEndpoint: recorderProxy.queueEndpoint });
    manifest = await startRun(local.runner, runId);
    events = await publishBlobCreatedEvents({
      container: local.chunks,
      prefix: `${runId}/`,
      filter,
      eventsQueue: local.eventsQueue,
    });
    trigger = await runQueueTrigger({
      queue: local.eventsQueue,
      poisonQueue: local.eventsPoisonQueue,
      invoke: (event) => local.runner.invokeFunction("ingest", event),
      parallel: 2,
    });
  });
  after(async () => {
    await local?.stop();
    await recorderProxy?.stop();
    await api?.stop();
    await ownAzurite?.stop();
  });

  it("writes 20 chunks of 5000 ids and a manifest with the totals", async () => {
    assert.deepEqual(manifest, { ...manifest, items: TOTAL, chunks: 20 });
    const names: string[] = [];
    for await (const blob of local.chunks.listBlobsFlat({ prefix: `${runId}/`, includeMetadata: true })) {
      names.push(blob.name);
      if (blob.name.endsWith(".chunk.json")) assert.equal(blob.metadata?.[CHUNK_METADATA.items], "5000");
    }
    assert.equal(names.length, 21);
    assert.equal(names[0], `${runId}/000001.chunk.json`);
    assert.equal(names[19], `${runId}/000020.chunk.json`);
    assert.equal(names[20], `${runId}/manifest.json`);
  });

  it("reads the source page by page (100 pages of 1000)", () => {
    assert.equal(api.pagesServed(), 100);
  });

  it("gets one BlobCreated event per chunk through the subscription's filter, and none for the manifest", () => {
    assert.equal(events.delivered.length, 20);
    assert.deepEqual(events.filteredOut, [`${runId}/manifest.json`]);
  });

  it("ingests each chunk in one successful invocation", () => {
    assert.deepEqual(trigger, { succeeded: 20, failedAttempts: 0, poisoned: 0, errors: [] });
  });

  it("enqueues every id exactly once, and the queue holds exactly 100,000 messages", async () => {
    const sent = recorderProxy.accepted("e2e-ids").map((text) => Buffer.from(text, "base64").toString("utf8"));
    assert.deepEqual(completeness(sent, TOTAL), {
      expected: TOTAL,
      distinct: TOTAL,
      missing: 0,
      duplicates: 0,
      unexpected: 0,
    });
    assert.equal(await storedMessageCount(local.targetQueues[0]), TOTAL);
  });

  it("checkpoints every chunk as fully ingested", async () => {
    for await (const blob of local.chunks.listBlobsFlat({ prefix: `${runId}/`, includeMetadata: true })) {
      if (blob.name.endsWith(".chunk.json")) assert.equal(blob.metadata?.[CHUNK_METADATA.ingested], "5000", blob.name);
    }
  });
});

describe("a crash in the middle of a chunk, then the retry", () => {
  const TOTAL = 4000;
  const CHECKPOINT_EVERY = 500;
  const CRASH_AT = idAt(3234); // chunk 2, item 1234: two checkpoints (1000 items) into the chunk
  const runId = `crash-${Date.now()}`;
  let api: IdServer;
  let local: LocalFanOut;
  let crashed: Error | undefined;
  let checkpointAfterCrash: string | undefined;
  let retry: { resumedFrom: number; sent: number; outcome: string };
  let messages: string[];

  before(async () => {
    api = await startIdServer(TOTAL);
    const args: FanOutIngestArgs<string> = {
      source: pagedIdSource(api.url),
      // The crash: the process dies (SIGKILL, no cleanup) when it reaches one id, if told to.
      toMessage: (id: string) => {
        if (id === process.env.FANOUT_CRASH_AT) process.kill(process.pid, "SIGKILL");
        return id;
      },
      chunkSize: 2000,
      checkpointEvery: CHECKPOINT_EVERY,
      queueName: "crash-ids",
      chunkContainerName: "crash-chunks",
    };
    const { artifact } = await deployed("crash", args);
    local = await startLocalFanOut(azurite, artifact, args, { env: { FANOUT_CRASH_AT: CRASH_AT } });
    await local.targetQueues[0].clearMessages();
    await startRun(local.runner, runId);
    const container = local.chunks.containerName;
    assert.equal(
      (await local.runner.invokeFunction("ingest", blobCreatedEvent(container, `${runId}/000001.chunk.json`))).error,
      undefined,
    );
    crashed = await local.runner
      .invokeFunction("ingest", blobCreatedEvent(container, `${runId}/000002.chunk.json`))
      .then(
        () => undefined,
        (error: Error) => error,
      );
    // The killed process is gone; only its unpacked folder is left (stop() waits for an exit that already happened).
    fs.rmSync(local.runner.dir, { recursive: true, force: true });
    checkpointAfterCrash = (await local.chunks.getBlockBlobClient(`${runId}/000002.chunk.json`).getProperties())
      .metadata?.[CHUNK_METADATA.ingested];

    // The retry: the queue message becomes visible again and a fresh instance takes it.
    const fresh = await startLocalFanOut(azurite, artifact, args);
    try {
      const invocation = await fresh.runner.invokeFunction(
        "ingest",
        blobCreatedEvent(container, `${runId}/000002.chunk.json`),
      );
      assert.equal(invocation.error, undefined, JSON.stringify(invocation.error));
      retry = invocation.result as typeof retry;
      messages = await receiveAll(fresh.targetQueues[0], "base64");
      await fresh.targetQueues[0].clearMessages();
    } finally {
      await fresh.stop();
    }
  });
  after(async () => api?.stop());

  it("kills the process mid-chunk", () => {
    assert.match(crashed?.message ?? "", /artifact process exited/);
  });

  it("leaves the checkpoint of the last completed interval on the chunk", () => {
    assert.equal(checkpointAfterCrash, "1000");
  });

  it("resumes the retry from that checkpoint", () => {
    assert.deepEqual(
      { resumedFrom: retry.resumedFrom, sent: retry.sent, outcome: retry.outcome },
      { resumedFrom: 1000, sent: 1000, outcome: "completed" },
    );
  });

  it("ends with every id in the queue", () => {
    assert.equal(completeness(messages, TOTAL).missing, 0);
  });

  it("duplicates some ids, all from the crashed interval and fewer than the checkpoint interval", () => {
    const check = completeness(messages, TOTAL);
    assert.ok(check.duplicates > 0, "the crash happened after part of the interval was sent");
    assert.ok(check.duplicates <= CHECKPOINT_EVERY, `${check.duplicates} duplicates`);
    const counts = new Map<string, number>();
    for (const message of messages) counts.set(message, (counts.get(message) ?? 0) + 1);
    const duplicated = [...counts].filter(([, count]) => count > 1).map(([id]) => Number(id.slice(3)));
    assert.ok(
      duplicated.every((position) => position > 3000 && position <= 3500),
      "duplicates come from items 1001..1500 of chunk 2",
    );
  });
});

describe("the timer-started run", () => {
  const firing = {
    isPastDue: false,
    scheduleStatus: {
      last: "2025-03-01T02:00:00.000Z",
      next: "2025-03-02T02:00:00.000Z",
      lastUpdated: "2025-03-01T02:00:01.000Z",
    },
  };
  let api: IdServer;
  let local: LocalFanOut;

  before(async () => {
    api = await startIdServer(12);
    const args: FanOutIngestArgs<string> = {
      source: pagedIdSource(api.url),
      schedule: "0 0 2 * * *",
      chunkSize: 5,
      checkpointEvery: 5,
      queueName: "timer-ids",
      chunkContainerName: `timer-chunks-${Date.now()}`,
    };
    const { artifact } = await deployed("timer", args);
    local = await startLocalFanOut(azurite, artifact, args);
  });
  after(async () => {
    await local?.stop();
    await api?.stop();
  });

  it("resumes the same run when the same firing is invoked again as past due, instead of starting another", async () => {
    const first = await local.runner.invokeFunction("chunkOnSchedule", firing);
    const again = await local.runner.invokeFunction("chunkOnSchedule", { ...firing, isPastDue: true });
    assert.deepEqual([first.error, again.error], [undefined, undefined]);
    assert.ok(
      again.logs.some((line) =>
        line.includes("run 2025-03-02T02-00-00-000Z-timer: 12 items in 3 chunks (already complete)"),
      ),
      again.logs.join("\n"),
    );
    const names: string[] = [];
    for await (const blob of local.chunks.listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names, [
      "2025-03-02T02-00-00-000Z-timer/000001.chunk.json",
      "2025-03-02T02-00-00-000Z-timer/000002.chunk.json",
      "2025-03-02T02-00-00-000Z-timer/000003.chunk.json",
      "2025-03-02T02-00-00-000Z-timer/manifest.json",
    ]);
  });
});

describe("the poison paths", () => {
  const runId = `poison-${Date.now()}`;
  const HUGE = idAt(2);
  let api: IdServer;
  let local: LocalFanOut;
  let report: { sent: number; poisoned: number; outcome: string };
  let logs: string[];

  before(async () => {
    api = await startIdServer(5);
    const args: FanOutIngestArgs<string> = {
      source: pagedIdSource(api.url),
      toMessage: (id: string) => (id === "id-0000002" ? JSON.stringify({ id, payload: "x".repeat(70_000) }) : id),
      queueName: "poison-ids",
      chunkContainerName: "poison-chunks",
    };
    const { artifact } = await deployed("poison", args);
    local = await startLocalFanOut(azurite, artifact, args);
    await Promise.all(
      [local.targetQueues[0], local.poisonQueues[0], local.eventsPoisonQueue].map((queue) => queue.clearMessages()),
    );
    await startRun(local.runner, runId);
    const invocation = await local.runner.invokeFunction(
      "ingest",
      blobCreatedEvent("poison-chunks", `${runId}/000001.chunk.json`),
    );
    report = invocation.result as typeof report;
    logs = invocation.logs;
  });
  after(async () => {
    await local?.stop();
    await api?.stop();
  });

  it("sends a message over 64 KiB encoded to the poison queue and the rest of the chunk to the target queue", async () => {
    assert.deepEqual([report.sent, report.poisoned, report.outcome], [4, 1, "completed"]);
    assert.deepEqual((await receiveAll(local.targetQueues[0], "base64")).sort(), [idAt(1), idAt(3), idAt(4), idAt(5)]);
  });

  it("warns that items were poisoned, in the form the component's poison alarm counts (a warning naming how many)", () => {
    const warnings = logs.filter((line) => line.startsWith("warn: "));
    assert.deepEqual(
      warnings.map((line) => /[1-9][0-9]* poisoned/.exec(line)?.[0]),
      ["1 poisoned"],
      logs.join("\n"),
    );
  });

  it("records the reason, the chunk, the position and a short preview in the poison message", async () => {
    const [record] = (await receiveAll(local.poisonQueues[0], "base64")).map((text) => JSON.parse(text));
    assert.equal(record.reason, "message is 93376 bytes base64-encoded; Storage Queue allows 65536");
    assert.equal(record.chunk, `${runId}/000001.chunk.json`);
    assert.equal(record.index, 1);
    assert.equal(record.queue, "poison-ids");
    assert.ok(record.preview.startsWith(`{"id":"${HUGE}","payload":"xxx`));
    assert.ok(record.preview.length < 1100);
  });

  it("sends an event that names no chunk to the events poison queue with the reason, and ingests nothing", async () => {
    const manifestEvent = blobCreatedEvent("poison-chunks", `${runId}/manifest.json`);
    const invocation = await local.runner.invokeFunction("ingest", manifestEvent);
    assert.equal((invocation.result as { outcome: string }).outcome, "rejected");
    assert.ok(
      invocation.logs.some(
        (line) =>
          line.startsWith("warn: ") &&
          line.includes(
            `event rejected to chunk-events-poison: blob ${runId}/manifest.json is not a chunk (*.chunk.json)`,
          ),
      ),
    );
    const [record] = (await receiveAll(local.eventsPoisonQueue, "none")).map((text) => JSON.parse(text));
    assert.equal(record.reason, `blob ${runId}/manifest.json is not a chunk (*.chunk.json)`);
    assert.deepEqual(JSON.parse(record.event), manifestEvent);
  });

  it("answers 400 to a run id that is not a blob path segment", async () => {
    const invocation = await local.runner.invokeFunction("chunk", {
      method: "POST",
      url: "http://localhost/api/runs?runId=../escape",
      headers: {},
    });
    assert.deepEqual(invocation.result, {
      status: 400,
      jsonBody: { error: 'runId "../escape" must match /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/' },
    });
  });

  it("answers 500 with the run id to resume with when the source fails", async () => {
    await api.stop();
    const invocation = await local.runner.invokeFunction("chunk", {
      method: "POST",
      url: "http://localhost/api/runs?runId=poison-broken",
      headers: {},
    });
    const response = invocation.result as {
      status: number;
      jsonBody: { runId: string; error: string; resume: string };
    };
    assert.equal(response.status, 500);
    assert.equal(response.jsonBody.runId, "poison-broken");
    assert.equal(response.jsonBody.resume, "POST /api/runs?runId=poison-broken");
    assert.match(response.jsonBody.error, /fetch failed/);
  });
});

// Whether Event Grid's Storage Queue destination stores an event as JSON text (the quickstart,
// https://learn.microsoft.com/azure/event-grid/custom-event-to-queue-storage) or base64 of it
// (MicrosoftDocs/azure-docs #102923, Microsoft's SDK samples) is disputed: both must be ingested.
for (const encoding of ["json-text", "base64"] as const) {
  describe(`Event Grid events stored as ${encoding} in the events queue, through the Functions queue trigger`, () => {
    const TOTAL = 30;
    const runId = `encoding-${encoding}-${Date.now()}`;
    let api: IdServer;
    let local: LocalFanOut;
    let events: { delivered: string[] };
    let trigger: TriggerResult;

    before(async () => {
      api = await startIdServer(TOTAL);
      const args: FanOutIngestArgs<string> = {
        source: pagedIdSource(api.url),
        chunkSize: 10,
        checkpointEvery: 10,
        queueName: `encoded-ids-${encoding}`,
        chunkContainerName: `encoded-chunks-${encoding}`,
      };
      const { artifact, filter } = await deployed(`encoded-${encoding}`, args);
      local = await startLocalFanOut(azurite, artifact, args);
      await Promise.all([local.eventsQueue.clearMessages(), local.eventsPoisonQueue.clearMessages()]);
      await startRun(local.runner, runId);
      events = await publishBlobCreatedEvents({
        container: local.chunks,
        prefix: `${runId}/`,
        filter,
        eventsQueue: local.eventsQueue,
        encoding,
      });
      trigger = await runQueueTrigger({
        queue: local.eventsQueue,
        poisonQueue: local.eventsPoisonQueue,
        invoke: (event) => local.runner.invokeFunction("ingest", event),
      });
    });
    after(async () => {
      await local?.stop();
      await api?.stop();
    });

    it("ingests every chunk and sends nothing to the events poison queue", async () => {
      assert.equal(events.delivered.length, 3);
      assert.deepEqual(trigger, { succeeded: 3, failedAttempts: 0, poisoned: 0, errors: [] });
      assert.deepEqual(await receiveAll(local.eventsPoisonQueue, "none"), []);
    });

    it("enqueues every id of the run exactly once", async () => {
      const messages = await receiveAll(local.targetQueues[0], "base64");
      assert.deepEqual(completeness(messages, TOTAL), {
        expected: TOTAL,
        distinct: TOTAL,
        missing: 0,
        duplicates: 0,
        unexpected: 0,
      });
    });
  });
}
