/**
 * The FifoIngester workload its end-to-end test, `npm start` scenario and benchmark share, on the
 * topology of queue-patterns/testing (testing/fifo-ingester.ts):
 * - a deterministic workload: records spread over groups, some failing their first receives, some
 *   failing always (they must reach the dead-letter queue), plus bodies that are not JSON;
 * - the built artifact in a fresh process, driven by the harness's stand-in for the SQS event source
 *   mapping; the callback appends one line per processed record to a file, so the check sees the
 *   real processing order across concurrent invocations;
 * - the check: per-group order of what was processed, every record processed exactly once or in
 *   the dead-letter queue, none lost.
 * fauxqs hands out at most one message per group per receive (real SQS may return several of a
 * group in one batch), so in-batch skipping of a failed group is covered by the runtime's tests,
 * with records from `fifoRecord`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Message } from "@aws-sdk/client-sqs";
import { type Artifact, buildArtifact, zipBytes } from "../../../components/core/artifact";
import { SQS_MANAGED_ENCRYPTION } from "../../../components/aws/secure-defaults";
import { fifoIngesterEntry, fifoQueueSettings } from "../../../components/fifo-ingester";
import {
  DEAD_LETTER_QUEUE_URL_ENV,
  DEAD_LETTER_REASON_ATTRIBUTE,
  type FifoRecordMetadata,
} from "../../../runtime/fifo-ingester/contract";
import type { SqsRecord } from "../../../runtime/fifo-ingester/handler";
import { createPublisher } from "../../../runtime/fifo-ingester/publisher";
import { ArtifactProcess } from "../../../testing/artifact-runner";
import { type Fauxqs, fauxqsFunctionEnv } from "../../../testing/emulators";
import type { FifoRig, FifoTopology } from "../../../testing/fifo-ingester";
import { queueDepth, receiveAll } from "../../../testing/queue-contents";
import { drainQueue, type EventSourceStats } from "../../../testing/sqs-event-source";
import { nodeBuild } from "../node-builds";

/** The file the recording callback appends to, named in the function's environment. */
export const PROCESSED_FILE_ENV = "QP_FIFO_PROCESSED_FILE";
/** A `failReceives` no redrive policy reaches: the record fails until it is dead-lettered. */
export const FAILS_ALWAYS = 1_000;
export const MAX_DELIVERY_COUNT = 5;

/** One work item: its group (the entity), its position in the publishing order, its injected failures. */
export interface WorkRecord {
  group: string;
  seq: number;
  /** The record fails on receives 1..failReceives. */
  failReceives: number;
}

export interface WorkloadShape {
  records: number;
  groups: number;
  /** One record in `failureEvery` fails (spread over all groups); 0 for none. @default 20 (5%) */
  failureEvery?: number;
  /** Of the failing records, one in `alwaysEvery` never succeeds. @default 10 */
  alwaysEvery?: number;
  /** Bodies that are not JSON, published after the records in the first groups. @default 10 */
  malformed?: number;
}

/** The records, round-robin over the groups; failures at fixed positions so every run is the same. */
export function workload(shape: WorkloadShape): {
  records: WorkRecord[];
  malformed: { group: string; body: string }[];
} {
  const failureEvery = shape.failureEvery ?? 20;
  const alwaysEvery = shape.alwaysEvery ?? 10;
  const records = Array.from({ length: shape.records }, (_, seq) => {
    const groupIndex = seq % shape.groups;
    const position = Math.floor(seq / shape.groups);
    const failing = failureEvery > 0 && (position + groupIndex) % failureEvery === 0;
    const failureNumber = Math.floor((position + groupIndex) / failureEvery);
    const always = failing && (failureNumber + groupIndex) % alwaysEvery === 0;
    const failReceives = always ? FAILS_ALWAYS : failing ? 1 + (failureNumber % 2) : 0;
    return { group: `listing-${groupIndex}`, seq, failReceives };
  });
  const malformed = Array.from({ length: shape.malformed ?? 10 }, (_, n) => ({
    group: `listing-${n % shape.groups}`,
    body: `<listing seq="${n}"> is not JSON`,
  }));
  return { records, malformed };
}

/**
 * The inline callback under test: fails while the record asks for it, otherwise records
 * `group<TAB>seq<TAB>messageId` in the file named by the environment (one process, appends in order).
 */
export async function recordingHandler(record: WorkRecord, meta: FifoRecordMetadata): Promise<void> {
  if (meta.receiveCount <= record.failReceives) {
    throw new Error(`injected failure of ${record.group}#${record.seq} on receive ${meta.receiveCount}`);
  }
  fs.appendFileSync(process.env[PROCESSED_FILE_ENV] as string, `${meta.groupId}\t${record.seq}\t${meta.messageId}\n`);
}

/** An SQS FIFO record in the Lambda event shape; real SQS may put several records of one group in a batch. */
export function fifoRecord(n: number, groupId: string, body: unknown, receiveCount = 1): SqsRecord {
  return {
    messageId: `message-${n}`,
    receiptHandle: `handle-${n}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: "1700000000000",
      SequenceNumber: String(18_000_000_000_000_000_000 + n),
      MessageGroupId: groupId,
      MessageDeduplicationId: `dedup-${n}`,
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: "1700000000001",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:listings-queue.fifo",
    awsRegion: "us-east-1",
  };
}

/** The component's defaults, for callers without a recorded component (scenario, benchmark). */
export function defaultTopology(): FifoTopology {
  const fifo = { ...fifoQueueSettings(true), ...SQS_MANAGED_ENCRYPTION };
  return {
    queue: {
      ...fifo,
      redrivePolicy: JSON.stringify({
        deadLetterTargetArn: "(the dead-letter queue)",
        maxReceiveCount: MAX_DELIVERY_COUNT,
      }),
    },
    deadLetterQueue: fifo,
    topic: { contentBasedDeduplication: true, fifoThroughputScope: "MessageGroup", kmsMasterKeyId: "alias/aws/sns" },
  };
}

/** Builds the ingester's artifact around a callback, as the component does, without a Pulumi program. */
export function buildIngesterArtifact(
  handler: (record: never, meta: FifoRecordMetadata) => unknown,
): Promise<Artifact> {
  return buildArtifact({
    owner: 'FifoIngester "local"',
    host: "aws-lambda",
    entry: fifoIngesterEntry({ body: "json", maxReceiveCount: MAX_DELIVERY_COUNT }),
    callbacks: { handler },
    nodeMajor: 22,
  });
}

export interface IngestionRun {
  publish: { calls: number; ms: number };
  drain: EventSourceStats & { lastInvocationMs: number };
  /** `[group, seq]` in processing order, from the callback's file. */
  processed: [string, number][];
  /** What the dead-letter queue holds. */
  deadLetters: Message[];
  /** Messages still in the queue (visible or in flight) after the drain. */
  remaining: number;
  /** The first few failure lines the function logged, for diagnosis. */
  failureLogs: string[];
}

/**
 * Publishes the workload through the topic with the producer helper, drains the queue through the
 * artifact and reads back what was processed and what was dead-lettered.
 */
export async function runIngestion(options: {
  fauxqs: Fauxqs;
  rig: FifoRig;
  artifact: Artifact;
  work: ReturnType<typeof workload>;
  concurrency?: number;
  visibilityTimeoutSeconds?: number;
}): Promise<IngestionRun> {
  const { rig, work } = options;
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 1;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "qp-fifo-")), "processed.tsv");
  fs.writeFileSync(file, "");
  const runner = await ArtifactProcess.start(
    zipBytes(options.artifact),
    "aws-lambda",
    {
      ...fauxqsFunctionEnv(options.fauxqs),
      [DEAD_LETTER_QUEUE_URL_ENV]: rig.deadLetterQueueUrl,
      [PROCESSED_FILE_ENV]: file,
    },
    nodeBuild,
  );
  try {
    const publishStarted = Date.now();
    const json = await createPublisher<WorkRecord>({
      topicArn: rig.topicArn,
      groupId: (r) => r.group,
      client: rig.sns,
    })(work.records);
    const rawCalls = await publishRaw(rig, work.malformed);
    const publish = { calls: json.calls + rawCalls, ms: Date.now() - publishStarted };

    const drainStarted = Date.now();
    let lastInvocation = drainStarted;
    const failureLogs: string[] = [];
    const stats = await drainQueue({
      client: rig.sqs,
      queueUrl: rig.queueUrl,
      concurrency: options.concurrency ?? 10,
      visibilityTimeoutSeconds,
      idleMs: visibilityTimeoutSeconds * 1000 + 1500,
      deadlineMs: 100_000,
      invoke: async (event) => {
        const invocation = await runner.invoke(event);
        lastInvocation = Date.now();
        if (failureLogs.length < 5)
          failureLogs.push(
            ...invocation.logs.filter((line) => line.includes("record failed")).slice(0, 5 - failureLogs.length),
          );
        if (invocation.error) throw new Error(invocation.error.message);
        return invocation.result;
      },
    });
    const processed = fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line): [string, number] => {
        const [group, seq] = line.split("\t");
        return [group, Number(seq)];
      });
    return {
      publish,
      drain: { ...stats, lastInvocationMs: lastInvocation - drainStarted },
      processed,
      deadLetters: await receiveAll(rig.sqs, rig.deadLetterQueueUrl),
      remaining: await queueDepth(rig.sqs, rig.queueUrl),
      failureLogs,
    };
  } finally {
    await runner.stop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/** Publishes bodies that are not JSON with the publisher's raw mode; returns its call count. */
async function publishRaw(rig: FifoRig, malformed: { group: string; body: string }[]): Promise<number> {
  if (malformed.length === 0) return 0;
  const groupOf = new Map(malformed.map((m) => [m.body, m.group]));
  const publish = createPublisher<string>({
    topicArn: rig.topicArn,
    groupId: (body) => groupOf.get(body) as string,
    body: "raw",
    client: rig.sns,
  });
  return (await publish(malformed.map((m) => m.body))).calls;
}

export interface Outcome {
  /** Groups whose processed records are not in publishing order. */
  outOfOrderGroups: string[];
  /** Records processed more than once. */
  duplicates: number[];
  /** Records neither processed nor dead-lettered. */
  lost: number[];
  /** Records that failed always but were processed, or that should have succeeded but were dead-lettered. */
  misplaced: number[];
  /** Malformed bodies in the dead-letter queue with the reason attribute, in their group. */
  malformedDeadLettered: number;
  processed: number;
  deadLettered: number;
}

/** Compares what happened with what the workload asked for. */
export function checkOutcome(work: ReturnType<typeof workload>, run: IngestionRun): Outcome {
  const lastSeq = new Map<string, number>();
  const outOfOrder = new Set<string>();
  const timesProcessed = new Map<number, number>();
  for (const [group, seq] of run.processed) {
    if ((lastSeq.get(group) ?? -1) >= seq) outOfOrder.add(group);
    lastSeq.set(group, seq);
    timesProcessed.set(seq, (timesProcessed.get(seq) ?? 0) + 1);
  }
  const deadSeqs = new Set<number>();
  let malformedDeadLettered = 0;
  for (const message of run.deadLetters) {
    const known = work.malformed.find((m) => m.body === message.Body);
    if (known) {
      const reason = message.MessageAttributes?.[DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue ?? "";
      if (reason.startsWith("body is not valid JSON") && message.Attributes?.MessageGroupId === known.group)
        malformedDeadLettered++;
      continue;
    }
    deadSeqs.add((JSON.parse(message.Body ?? "{}") as WorkRecord).seq);
  }
  const shouldDie = (record: WorkRecord) => record.failReceives >= MAX_DELIVERY_COUNT;
  return {
    outOfOrderGroups: [...outOfOrder].sort(),
    duplicates: [...timesProcessed].filter(([, times]) => times > 1).map(([seq]) => seq),
    lost: work.records.filter((r) => !timesProcessed.has(r.seq) && !deadSeqs.has(r.seq)).map((r) => r.seq),
    misplaced: work.records
      .filter((r) => (shouldDie(r) ? timesProcessed.has(r.seq) || !deadSeqs.has(r.seq) : deadSeqs.has(r.seq)))
      .map((r) => r.seq),
    malformedDeadLettered,
    processed: timesProcessed.size,
    deadLettered: run.deadLetters.length,
  };
}
