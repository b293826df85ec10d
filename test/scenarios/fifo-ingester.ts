/**
 * FifoIngester's `npm start` scenario: 3,000 listing events end to end on fauxqs through the rig in
 * test/harness/rigs/fifo.ts, checked for per-group order, exactly-once processing and no loss.
 */
import {
  buildIngesterArtifact,
  checkOutcome,
  defaultTopology,
  MAX_DELIVERY_COUNT,
  recordingHandler,
  runIngestion,
  workload,
} from "../harness/rigs/fifo";
import { provisionFifo } from "../../testing/fifo-ingester";
import type { Scenario } from "./scenario";

export const scenario: Scenario = {
  component: "FifoIngester",
  description:
    "3,000 listing events over 100 groups published through SNS FIFO (raw delivery) to SQS FIFO on fauxqs, drained through the built artifact with 5% injected failures",
  async run(context) {
    const fauxqs = await context.fauxqs();
    const work = workload({ records: 3_000, groups: 100 });
    const rig = await provisionFifo(fauxqs, "scenario", defaultTopology());
    const artifact = await buildIngesterArtifact(recordingHandler);
    const run = await runIngestion({ fauxqs, rig, artifact, work });
    const outcome = checkOutcome(work, run);
    const seconds = run.drain.lastInvocationMs / 1000;
    context.log(
      `published ${work.records.length + work.malformed.length} messages in ${run.publish.calls} PublishBatch calls (${run.publish.ms} ms)`,
    );
    context.log(
      `drained in ${seconds.toFixed(1)} s, visibility-timeout waits of failed records included: ${outcome.processed} processed ` +
        `(${Math.round(outcome.processed / seconds)} records/s), ${run.drain.batches} batches, ${run.drain.failedRecords} failed deliveries retried`,
    );
    context.log(
      `dead-letter queue: ${outcome.deadLettered} (${outcome.malformedDeadLettered} malformed with reason, the rest failed ${MAX_DELIVERY_COUNT} times)`,
    );
    context.log(
      `order check: ${outcome.outOfOrderGroups.length} groups out of order; ${outcome.duplicates.length} processed twice; ` +
        `${outcome.lost.length} lost; ${outcome.misplaced.length} misplaced; ${run.remaining} left in the queue`,
    );
    const ok =
      outcome.outOfOrderGroups.length === 0 &&
      outcome.duplicates.length === 0 &&
      outcome.lost.length === 0 &&
      outcome.misplaced.length === 0 &&
      outcome.malformedDeadLettered === work.malformed.length &&
      run.remaining === 0;
    return {
      ok,
      summary: `${outcome.processed} processed in per-group order, ${outcome.deadLettered} dead-lettered, none lost; ${Math.round(outcome.processed / seconds)} records/s`,
    };
  },
};
