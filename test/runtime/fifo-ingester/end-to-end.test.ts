import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { installMocks, resolve } from "../../../testing/mocks";

const recorder = installMocks();

import { FifoIngester } from "../../../components/fifo-ingester";
import { type Fauxqs, useFauxqs } from "../../../testing/emulators";
import {
  checkOutcome,
  type IngestionRun,
  MAX_DELIVERY_COUNT,
  type Outcome,
  recordingHandler,
  runIngestion,
  workload,
} from "../../harness/rigs/fifo";
import { provisionFifo } from "../../../testing/fifo-ingester";

describe("the built FifoIngester artifact on fauxqs, 10,000 records over 100 groups with 5% injected failures", () => {
  const work = workload({ records: 10_000, groups: 100 });
  let fauxqs: Fauxqs;
  let run: IngestionRun;
  let outcome: Outcome;

  before(async () => {
    fauxqs = await useFauxqs();
    const ingester = new FifoIngester("e2e", { handler: recordingHandler, maxDeliveryCount: MAX_DELIVERY_COUNT });
    const artifact = await resolve(ingester.function.artifact);
    await resolve(ingester.subscription.id);
    await recorder.settle();
    // The emulator's queues and topic get the attributes the component declared.
    const rig = await provisionFifo(fauxqs, "e2e", {
      queue: recorder.named("aws:sqs/queue:Queue", "e2e-queue").inputs,
      deadLetterQueue: recorder.named("aws:sqs/queue:Queue", "e2e-dlq").inputs,
      topic: recorder.named("aws:sns/topic:Topic", "e2e-topic").inputs,
    });
    const started = Date.now();
    run = await runIngestion({ fauxqs, rig, artifact, work });
    outcome = checkOutcome(work, run);
    console.log(
      `published in ${run.publish.ms} ms (${run.publish.calls} calls); drained in ${run.drain.lastInvocationMs} ms ` +
        `(${run.drain.batches} batches, ${run.drain.failedRecords} failed deliveries); whole run ${Date.now() - started} ms`,
    );
  });
  after(async () => fauxqs?.stop());

  it("processes every group's records in publishing order", () => {
    assert.deepEqual(outcome.outOfOrderGroups, []);
  });

  it("processes no record twice", () => {
    assert.deepEqual(outcome.duplicates, []);
  });

  it("loses no record: each one was processed or sits in the dead-letter queue", () => {
    assert.deepEqual(outcome.lost, []);
    assert.equal(run.remaining, 0);
  });

  it("dead-letters exactly the records that failed on every receive, and processes all the others", () => {
    const failingAlways = work.records.filter((r) => r.failReceives >= MAX_DELIVERY_COUNT).length;
    assert.deepEqual(outcome.misplaced, []);
    assert.equal(outcome.processed, work.records.length - failingAlways);
    assert.ok(
      failingAlways > 0 && run.drain.failedRecords > failingAlways * MAX_DELIVERY_COUNT,
      "failures were injected",
    );
  });

  it("dead-letters every malformed body at once, in its group, with the reason", () => {
    assert.equal(outcome.malformedDeadLettered, work.malformed.length);
    const failingAlways = work.records.filter((r) => r.failReceives >= MAX_DELIVERY_COUNT).length;
    assert.equal(outcome.deadLettered, failingAlways + work.malformed.length);
  });
});
