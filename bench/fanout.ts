/**
 * `npm run bench -- fanout`: FanOutIngest against Azurite, measured in one run.
 * - Ingestion throughput: the built ingestion function enqueuing chunks of 5000, as parallel
 *   invocations, against a raw `sendMessage` loop at its best concurrency (probed first), each into
 *   an empty queue, the same number of messages. Target: at least 90% of the raw loop.
 * - Chunking 1,000,000 ids from a paginated API on loopback: time and peak RSS of the built chunking
 *   function's process, beside its RSS before the run (both reported by the source callback from
 *   inside the artifact). Target: under 256 MB.
 * Sizes: FANOUT_BENCH_MESSAGES (default 40,000) and FANOUT_BENCH_CHUNKING_IDS (default 1,000,000).
 */
import { performance } from "node:perf_hooks";
import { type QueueClient, QueueServiceClient } from "@azure/storage-queue";
import type { FanOutIngestArgs } from "../components/fan-out-ingest";
import { type Azurite, startAzurite } from "../testing/emulators";
import { printTable } from "./table";
import {
  buildFanOutArtifact,
  pagedIdSource,
  startIdServer,
  startLocalFanOut,
  startRun,
} from "../test/harness/rigs/fan-out";

const MESSAGES = Number(process.env.FANOUT_BENCH_MESSAGES ?? 40_000);
const CHUNKING_IDS = Number(process.env.FANOUT_BENCH_CHUNKING_IDS ?? 1_000_000);
const PROBE_MESSAGES = 3000;
const PROBE_CONCURRENCY = [4, 8, 16, 32, 64];
const INGESTION_CONCURRENCY = 16;
const THROUGHPUT_TARGET = 0.9;
const RSS_TARGET_MB = 256;

/**
 * Runs `work` against an Azurite of its own, stopped afterwards. Every measurement gets a fresh one
 * and nothing is ever cleared: Azurite deletes the storage of cleared messages in a background sweep
 * that takes minutes of CPU for tens of thousands of messages and would slow the next measurement.
 */
async function withAzurite<T>(work: (azurite: Azurite) => Promise<T>): Promise<T> {
  const azurite = await startAzurite();
  try {
    return await work(azurite);
  } finally {
    await azurite.stop();
  }
}

async function freshQueue(azurite: Azurite, name: string): Promise<QueueClient> {
  const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(name);
  await queue.create();
  return queue;
}

/** Sends `count` messages with `concurrency` sends in flight into an empty queue; messages per second. */
async function rawSendRate(queue: QueueClient, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await queue.sendMessage(`raw-${next}`);
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function ingestionRate(azurite: Azurite, parallelInvocations: number): Promise<{ rate: number; chunks: number }> {
  const api = await startIdServer(MESSAGES);
  const args: FanOutIngestArgs<string> = {
    source: pagedIdSource(api.url),
    queueName: "bench-ids",
    chunkContainerName: "bench-chunks",
    sendConcurrency: INGESTION_CONCURRENCY,
  };
  const local = await startLocalFanOut(azurite, await buildFanOutArtifact("bench", args), args);
  try {
    const runId = `bench-${Date.now()}`;
    const manifest = await startRun(local.runner, runId);
    const chunkNames: string[] = [];
    for await (const blob of local.chunks.listBlobsFlat({ prefix: `${runId}/` }))
      if (blob.name.endsWith(".chunk.json")) chunkNames.push(blob.name);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: parallelInvocations }, async () => {
        while (next < chunkNames.length) {
          const blobName = chunkNames[next++];
          const event = {
            eventType: "Microsoft.Storage.BlobCreated",
            subject: `/blobServices/default/containers/bench-chunks/blobs/${blobName}`,
          };
          const invocation = await local.runner.invokeFunction("ingest", event);
          if (invocation.error) throw new Error(`ingest ${blobName}: ${invocation.error.message}`);
        }
      }),
    );
    return { rate: manifest.items / ((performance.now() - started) / 1000), chunks: manifest.chunks };
  } finally {
    await local.stop();
    await api.stop();
  }
}

interface ChunkingReport {
  items: number;
  chunks: number;
  seconds: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

/** The id API's source, reporting the process's memory before the first page and its peak after the last. */
function measuredSource(apiUrl: string) {
  const pages = pagedIdSource(apiUrl);
  return async function* () {
    console.log(`rss-before ${process.memoryUsage().rss}`);
    yield* pages();
    // maxRSS (KiB) is the process's high-water mark since it started.
    console.log(`rss-peak ${process.resourceUsage().maxRSS * 1024}`);
  };
}

/** Runs the chunking function of the built artifact over the id API; the source reports the memory. */
async function chunkingRun(azurite: Azurite): Promise<ChunkingReport> {
  const api = await startIdServer(CHUNKING_IDS);
  const args = {
    source: measuredSource(api.url),
    chunkContainerName: "bench-chunking",
    queueName: "bench-chunking-ids",
  };
  const local = await startLocalFanOut(azurite, await buildFanOutArtifact("bench-chunking", args), args);
  try {
    const started = performance.now();
    const invocation = await local.runner.invokeFunction("chunk", {
      method: "POST",
      url: `http://localhost/api/runs?runId=chunking-${Date.now()}`,
      headers: {},
    });
    const seconds = (performance.now() - started) / 1000;
    const response = invocation.result as { status: number; jsonBody: { manifest: { items: number; chunks: number } } };
    if (response?.status !== 200) throw new Error(`chunking failed: ${JSON.stringify(invocation.error ?? response)}`);
    const logged = (label: string) =>
      Number(
        invocation.logs
          .find((line) => line.includes(`${label} `))
          ?.split(" ")
          .pop(),
      ) /
      2 ** 20;
    return { ...response.jsonBody.manifest, seconds, rssBeforeMb: logged("rss-before"), peakRssMb: logged("rss-peak") };
  } finally {
    await local.stop();
    await api.stop();
  }
}

const perSecond = (rate: number) => `${Math.round(rate).toLocaleString("en-US")} msg/s`;

export async function run(): Promise<void> {
  const probes = await withAzurite(async (azurite) => {
    const rates: [number, number][] = [];
    for (const concurrency of PROBE_CONCURRENCY) {
      rates.push([
        concurrency,
        await rawSendRate(await freshQueue(azurite, `probe-${concurrency}`), PROBE_MESSAGES, concurrency),
      ]);
    }
    return rates;
  });
  const [bestConcurrency] = probes.reduce((best, probe) => (probe[1] > best[1] ? probe : best));
  console.log(
    `raw sendMessage probes (${PROBE_MESSAGES} each): ${probes.map(([c, r]) => `${c} in flight ${perSecond(r)}`).join(", ")}`,
  );

  const raw = await withAzurite(async (azurite) =>
    rawSendRate(await freshQueue(azurite, "bench-raw"), MESSAGES, bestConcurrency),
  );
  const parallelInvocations = Math.max(1, Math.round(bestConcurrency / INGESTION_CONCURRENCY));
  const ingestion = await withAzurite((azurite) => ingestionRate(azurite, parallelInvocations));
  const chunking = await withAzurite(chunkingRun);

  printTable(
    ["measure", "value", "baseline", "ratio", "target"],
    [
      [
        `raw sendMessage, ${bestConcurrency} in flight, ${MESSAGES.toLocaleString("en-US")} messages`,
        perSecond(raw),
        "",
        "",
        "",
      ],
      [
        `ingestion function, ${ingestion.chunks} chunks, ${parallelInvocations} x ${INGESTION_CONCURRENCY} in flight`,
        perSecond(ingestion.rate),
        perSecond(raw),
        `${((ingestion.rate / raw) * 100).toFixed(0)}%`,
        `>= ${THROUGHPUT_TARGET * 100}%`,
      ],
      [
        `chunking ${chunking.items.toLocaleString("en-US")} ids -> ${chunking.chunks} chunks: time`,
        `${chunking.seconds.toFixed(1)} s`,
        "",
        "",
        "",
      ],
      [
        "chunking: peak RSS of the function process (before the run)",
        `${chunking.peakRssMb.toFixed(0)} MB`,
        `${chunking.rssBeforeMb.toFixed(0)} MB`,
        "",
        `< ${RSS_TARGET_MB} MB`,
      ],
    ],
  );
}
