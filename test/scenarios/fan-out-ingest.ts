/**
 * FanOutIngest end to end on Azurite: a paginated API of ids through the built artifacts into a
 * Storage Queue, checked for completeness.
 */
import { chunkCreatedFilter, FAN_OUT_DEFAULTS, type FanOutIngestArgs } from "../../components/fan-out-ingest";
import { decodeMessage } from "../../runtime/fan-out-ingest/ingestion";
import { startAzurite } from "../../testing/emulators";
import {
  buildFanOutArtifact,
  completeness,
  pagedIdSource,
  publishBlobCreatedEvents,
  runQueueTrigger,
  startIdServer,
  startLocalFanOut,
  startQueueRecorder,
  startRun,
  storedMessageCount,
} from "../harness/rigs/fan-out";
import type { Scenario } from "./scenario";

export const scenario: Scenario = {
  component: "FanOutIngest",
  description:
    "a paginated API of ids -> chunk blobs -> BlobCreated events -> parallel ingestion into a Storage Queue (Azurite)",
  async run(context) {
    const total = Number(process.env.FANOUT_SCENARIO_ITEMS ?? 100_000);
    // An Azurite of its own, stopped with the 100,000 messages still in it: clearing them would start
    // minutes of background sweeping in Azurite that slows every scenario after this one.
    const azurite = await startAzurite();
    const api = await startIdServer(total);
    const recorder = await startQueueRecorder(azurite.queueEndpoint);
    const args: FanOutIngestArgs<string> = {
      source: pagedIdSource(api.url),
      queueName: "scenario-ids",
      chunkContainerName: "scenario-chunks",
    };
    const local = await startLocalFanOut(azurite, await buildFanOutArtifact("scenario", args), args, {
      queueEndpoint: recorder.queueEndpoint,
    });
    const [target] = local.targetQueues;
    try {
      const runId = `scenario-${Date.now()}`;
      const chunkingStarted = Date.now();
      const manifest = await startRun(local.runner, runId);
      context.log(
        `chunking: ${manifest.items} ids from ${api.pagesServed()} API pages -> ${manifest.chunks} chunks of 5000 in ${seconds(chunkingStarted)} s`,
      );

      const events = await publishBlobCreatedEvents({
        container: local.chunks,
        prefix: `${runId}/`,
        filter: chunkCreatedFilter(local.chunks.containerName),
        eventsQueue: local.eventsQueue,
      });
      context.log(
        `Event Grid: ${events.delivered.length} BlobCreated events queued; filtered out: ${events.filteredOut.join(", ")}`,
      );

      const ingestionStarted = Date.now();
      const trigger = await runQueueTrigger({
        queue: local.eventsQueue,
        poisonQueue: local.eventsPoisonQueue,
        invoke: (event) => local.runner.invokeFunction("ingest", event),
        parallel: 2,
      });
      const rate = Math.round(manifest.items / Number(seconds(ingestionStarted)));
      context.log(
        `ingestion: ${trigger.succeeded} invocations (2 at a time), ${seconds(ingestionStarted)} s, ${rate} messages/s`,
      );
      for (const error of trigger.errors) context.log(`failed attempt, retried from its checkpoint: ${error}`);

      const sent = recorder.accepted(target.name).map((text) => decodeMessage(text, "base64"));
      const check = completeness(sent, total);
      const stored = await storedMessageCount(target);
      context.log(
        `completeness: ${check.distinct}/${total} ids, ${check.missing} missing, ${check.duplicates} duplicates; ${stored} messages in ${target.name}`,
      );
      // At least once: a failed attempt resends at most one checkpoint interval of its chunk.
      const duplicateBound = trigger.failedAttempts * FAN_OUT_DEFAULTS.checkpointEvery;
      const ok =
        manifest.chunks === Math.ceil(total / 5000) &&
        check.missing === 0 &&
        check.duplicates <= duplicateBound &&
        check.unexpected === 0 &&
        stored === total + check.duplicates;
      return {
        ok,
        summary: `${total} ids, ${manifest.chunks} chunks, ${rate} msg/s, ${check.missing} missing, ${check.duplicates} duplicates (bound ${duplicateBound}: ${trigger.failedAttempts} failed attempts x ${FAN_OUT_DEFAULTS.checkpointEvery})`,
      };
    } finally {
      await local.stop();
      await recorder.stop();
      await api.stop();
      await azurite.stop();
    }
  },
};

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}
