/**
 * `npm run bench -- fifo`: FifoIngester on fauxqs, measured in one run.
 * - Consumer throughput: 10,000 records over 100 groups, drained (a) by a raw loop of
 *   ReceiveMessage / DeleteMessageBatch with no processing, and (b) through the built artifact (the
 *   event-source stand-in, the artifact in its own process, Powertools' FIFO processor, the
 *   callback). Same queue attributes, same number of pollers; best of the rounds, interleaved.
 *   Target: (b) at least 80% of (a).
 * - Publisher: messages per PublishBatch call for the same 10,000 records. Target: at least 9.5.
 * Timings stop at the last message handled, so the pollers' idle wait at the end is not counted.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { createPublisher } from "../runtime/fifo-ingester/publisher";
import { type Fauxqs, startFauxqs } from "../testing/emulators";
import {
  buildIngesterArtifact,
  defaultTopology,
  recordingHandler,
  runIngestion,
  type WorkRecord,
  workload,
} from "../test/harness/rigs/fifo";
import { type FifoRig, provisionFifo } from "../testing/fifo-ingester";
import { printTable } from "./table";

const RECORDS = 10_000;
const GROUPS = 100;
const POLLERS = 10;
const ROUNDS = 2;
const THROUGHPUT_TARGET = 0.8;
const MESSAGES_PER_CALL_TARGET = 9.5;

/** Publishes the workload through the topic; returns the publisher's call count. */
async function publish(rig: FifoRig, records: WorkRecord[]): Promise<number> {
  return (
    await createPublisher<WorkRecord>({ topicArn: rig.topicArn, groupId: (r) => r.group, client: rig.sns })(records)
  ).calls;
}

/** The baseline: pollers that receive and delete, nothing else; ms until the last delete. */
async function rawLoop(rig: FifoRig, expected: number): Promise<number> {
  let handled = 0;
  let finished = 0;
  const started = Date.now();
  const poller = async () => {
    while (handled < expected) {
      const { Messages = [] } = await rig.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: rig.queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
          WaitTimeSeconds: 0,
        }),
      );
      if (Messages.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      await rig.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: rig.queueUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      handled += Messages.length;
      finished = Date.now();
    }
  };
  await Promise.all(Array.from({ length: POLLERS }, poller));
  return finished - started;
}

export async function run(): Promise<void> {
  const fauxqs: Fauxqs = await startFauxqs();
  try {
    const clean = workload({ records: RECORDS, groups: GROUPS, failureEvery: 0, malformed: 0 });
    const artifact = await buildIngesterArtifact(recordingHandler);
    const rawMs: number[] = [];
    const artifactMs: number[] = [];
    let publishCalls = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const baseline = await provisionFifo(fauxqs, `bench-raw-${round}`, defaultTopology());
      publishCalls = await publish(baseline, clean.records);
      rawMs.push(await rawLoop(baseline, RECORDS));

      const rig = await provisionFifo(fauxqs, `bench-artifact-${round}`, defaultTopology());
      const ingestion = await runIngestion({
        fauxqs,
        rig,
        artifact,
        work: clean,
        concurrency: POLLERS,
        visibilityTimeoutSeconds: 30,
      });
      if (ingestion.processed.length !== RECORDS) {
        throw new Error(
          `the artifact processed ${ingestion.processed.length} of ${RECORDS} records: ${JSON.stringify(ingestion.drain)}, ${ingestion.remaining} left, ${ingestion.deadLetters.length} dead-lettered; ${ingestion.failureLogs.join("; ")}`,
        );
      }
      artifactMs.push(ingestion.drain.lastInvocationMs);
    }
    const perSecond = (ms: number) => Math.round((RECORDS / ms) * 1000);
    const rawBest = Math.min(...rawMs);
    const artifactBest = Math.min(...artifactMs);
    const ratio = rawBest / artifactBest;
    const perCall = RECORDS / publishCalls;
    console.log(
      `${RECORDS} records over ${GROUPS} groups, ${POLLERS} pollers, fauxqs; best of ${ROUNDS} rounds (ms: raw ${rawMs.join(", ")}; artifact ${artifactMs.join(", ")})`,
    );
    printTable(
      ["measure", "value", "target", "met"],
      [
        ["raw Receive/DeleteMessageBatch loop (records/s)", String(perSecond(rawBest)), "baseline", ""],
        ["FifoIngester artifact (records/s)", String(perSecond(artifactBest)), "", ""],
        [
          "artifact / raw loop",
          `${(ratio * 100).toFixed(0)}%`,
          `>= ${THROUGHPUT_TARGET * 100}%`,
          ratio >= THROUGHPUT_TARGET ? "yes" : "no",
        ],
        [
          "publisher messages per PublishBatch call",
          perCall.toFixed(2),
          `>= ${MESSAGES_PER_CALL_TARGET}`,
          perCall >= MESSAGES_PER_CALL_TARGET ? "yes" : "no",
        ],
      ],
    );
  } finally {
    await fauxqs.stop();
  }
}
