/**
 * FifoIngester, run locally on fauxqs:
 * - the same topology as the component: an SNS FIFO topic delivering with raw message delivery to
 *   an SQS FIFO queue that redrives to a FIFO dead-letter queue (fauxqs 1.9 supports all of it),
 *   with the attributes the component declared;
 * - the component's built artifact in a fresh process, driven by the stand-in for the SQS event
 *   source mapping (sqs-event-source.ts) with the mapping's batch size, concurrency and
 *   ReportBatchItemFailures;
 * - what happened: every record each invocation was given and whether it failed, the dead letters
 *   with their reasons, what is left in the queue.
 * fauxqs hands out at most one message per group per receive (real SQS may return several of a
 * group in one batch).
 */
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type * as aws from "@pulumi/aws";
import { zipBytes } from "../components/core/artifact";
import type { FifoIngester } from "../components/fifo-ingester";
import { DEAD_LETTER_QUEUE_URL_ENV, DEAD_LETTER_REASON_ATTRIBUTE } from "../runtime/fifo-ingester/contract";
import { ArtifactProcess } from "./artifact-runner";
import { type Fauxqs, fauxqsClientConfig, fauxqsFunctionEnv } from "./emulators";
import {
  artifactOf,
  type ExerciseOptions,
  type InvocationRecord,
  invocationRecord,
  lambdaEnvironment,
  nameOf,
  type NodeUsed,
  nodeSelector,
  valueOf,
  withEmulators,
} from "./exercise";
import { queueDepth, receiveAll } from "./queue-contents";
import { drainQueue, type SqsEvent } from "./sqs-event-source";

/** The Pulumi inputs of a queue, as the component passes them. */
export interface QueueInputs {
  fifoQueue?: boolean;
  deduplicationScope?: string;
  fifoThroughputLimit?: string;
  sqsManagedSseEnabled?: boolean;
  visibilityTimeoutSeconds?: number;
  messageRetentionSeconds?: number;
  redrivePolicy?: string;
}

/** The Pulumi inputs of the topic. */
export interface TopicInputs {
  contentBasedDeduplication?: boolean;
  fifoThroughputScope?: string;
  kmsMasterKeyId?: string;
}

export interface FifoTopology {
  queue: QueueInputs;
  deadLetterQueue: QueueInputs;
  topic: TopicInputs;
}

/** SQS attribute names for the Pulumi queue inputs; the redrive target becomes the emulator's queue. */
export function sqsAttributes(inputs: QueueInputs, deadLetterArn?: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (inputs.fifoQueue) attributes.FifoQueue = "true";
  if (inputs.deduplicationScope) attributes.DeduplicationScope = inputs.deduplicationScope;
  if (inputs.fifoThroughputLimit) attributes.FifoThroughputLimit = inputs.fifoThroughputLimit;
  if (inputs.sqsManagedSseEnabled !== undefined) attributes.SqsManagedSseEnabled = String(inputs.sqsManagedSseEnabled);
  if (inputs.visibilityTimeoutSeconds !== undefined)
    attributes.VisibilityTimeout = String(inputs.visibilityTimeoutSeconds);
  if (inputs.messageRetentionSeconds !== undefined)
    attributes.MessageRetentionPeriod = String(inputs.messageRetentionSeconds);
  if (inputs.redrivePolicy && deadLetterArn) {
    attributes.RedrivePolicy = JSON.stringify({
      ...JSON.parse(inputs.redrivePolicy),
      deadLetterTargetArn: deadLetterArn,
    });
  }
  return attributes;
}

export interface FifoRig {
  sqs: SQSClient;
  sns: SNSClient;
  topicArn: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
}

/** Creates the topic, the queues and the raw-delivery subscription on fauxqs, with the component's attributes. */
export async function provisionFifo(fauxqs: Fauxqs, name: string, topology: FifoTopology): Promise<FifoRig> {
  const sqs = new SQSClient(fauxqsClientConfig(fauxqs));
  const sns = new SNSClient(fauxqsClientConfig(fauxqs));
  const queueArn = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes
      ?.QueueArn as string;
  const unique = `${name}-${process.pid}-${Date.now()}`;
  const deadLetter = await sqs.send(
    new CreateQueueCommand({ QueueName: `${unique}-dlq.fifo`, Attributes: sqsAttributes(topology.deadLetterQueue) }),
  );
  const deadLetterArn = await queueArn(deadLetter.QueueUrl as string);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${unique}-queue.fifo`,
      Attributes: sqsAttributes(topology.queue, deadLetterArn),
    }),
  );
  const topic = await sns.send(
    new CreateTopicCommand({
      Name: `${unique}-topic.fifo`,
      Attributes: {
        FifoTopic: "true",
        ContentBasedDeduplication: String(topology.topic.contentBasedDeduplication ?? false),
        ...(topology.topic.fifoThroughputScope ? { FifoThroughputScope: topology.topic.fifoThroughputScope } : {}),
        ...(topology.topic.kmsMasterKeyId ? { KmsMasterKeyId: topology.topic.kmsMasterKeyId } : {}),
      },
    }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: topic.TopicArn,
      Protocol: "sqs",
      Endpoint: await queueArn(queue.QueueUrl as string),
      Attributes: { RawMessageDelivery: "true", RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn }) },
    }),
  );
  return {
    sqs,
    sns,
    topicArn: topic.TopicArn as string,
    queueUrl: queue.QueueUrl as string,
    deadLetterQueueUrl: deadLetter.QueueUrl as string,
  };
}

/** The queue inputs a component declared, read from the queue's resolved properties. */
async function queueInputs(queue: aws.sqs.Queue): Promise<QueueInputs> {
  const [fifoQueue, deduplicationScope, fifoThroughputLimit, sqsManagedSseEnabled, visibility, retention, redrive] =
    await Promise.all([
      valueOf(queue.fifoQueue),
      valueOf(queue.deduplicationScope),
      valueOf(queue.fifoThroughputLimit),
      valueOf(queue.sqsManagedSseEnabled),
      valueOf(queue.visibilityTimeoutSeconds),
      valueOf(queue.messageRetentionSeconds),
      valueOf(queue.redrivePolicy),
    ]);
  return {
    fifoQueue,
    deduplicationScope,
    fifoThroughputLimit,
    sqsManagedSseEnabled,
    visibilityTimeoutSeconds: visibility,
    messageRetentionSeconds: retention,
    redrivePolicy: redrive,
  };
}

/** The topology a FifoIngester declared; an existing topic's settings are unknown, so it gets SNS's defaults. */
export async function fifoTopologyOf(ingester: FifoIngester<any>): Promise<FifoTopology> {
  const topic = ingester.topic;
  return {
    queue: await queueInputs(ingester.queue),
    deadLetterQueue: await queueInputs(ingester.deadLetterQueue),
    topic: topic
      ? {
          contentBasedDeduplication: await valueOf(topic.contentBasedDeduplication),
          fifoThroughputScope: await valueOf(topic.fifoThroughputScope),
          kmsMasterKeyId: await valueOf(topic.kmsMasterKeyId),
        }
      : {},
  };
}

/** One message published to the ingester's topic. */
export interface FifoMessage<T = unknown> {
  /** The message group: records of one group are handled one at a time, in publishing order. */
  groupId: string;
  /** The record; sent as JSON text unless it is a string, which is sent as it is. */
  body: T | string;
  /** @default none when the topic deduplicates by content (the component's default), else a unique id */
  deduplicationId?: string;
}

/** A record as one invocation received it, and how it ended there. */
export interface FifoDelivery {
  messageId: string;
  groupId: string;
  /** The SQS body; the handler received it parsed from JSON (or as it is, with `body: "raw"`). */
  body: string;
  /** 1 on the first delivery, then 2, 3, ... (what `meta.receiveCount` said). */
  receiveCount: number;
  /**
   * How the attempt ended: `processed` (the handler resolved), `failed` (the handler threw, or an
   * earlier record of its group failed in the same batch; it comes back), `dead-lettered` (the
   * function moved it to the dead-letter queue itself: a body that is not JSON, or a `RejectMessage`).
   */
  outcome: "processed" | "failed" | "dead-lettered";
  /** What the handler threw, or why the function dead-lettered it, as the function logged it. */
  error?: string;
}

/** A message in the dead-letter queue. */
export interface FifoDeadLetter {
  body: string;
  groupId?: string;
  /**
   * Why it is there: the reason the function gave when it dead-lettered the message itself (a body
   * that is not JSON), or the last error of a record SQS moved after `maxDeliveryCount` receives.
   */
  reason?: string;
}

export interface FifoIngesterRun {
  component: "FifoIngester";
  name: string;
  node: NodeUsed;
  /** Messages published to the topic. */
  published: number;
  /** Every record handed to the handler, in the order of the invocations. */
  deliveries: FifoDelivery[];
  invocations: InvocationRecord[];
  deadLetters: FifoDeadLetter[];
  /** Messages still in the queue when the run stopped (0 unless it timed out). */
  remaining: number;
  elapsedMs: number;
}

/** Sample listing events, used when no messages are given: two groups, one record each. */
export const SAMPLE_FIFO_MESSAGES: FifoMessage[] = [
  { groupId: "sample-group-1", body: { id: "sample-1", note: "a queue-patterns/testing sample record" } },
  { groupId: "sample-group-2", body: { id: "sample-2", note: "a queue-patterns/testing sample record" } },
];

/** What an invocation's JSON log lines report per message id: the error, and whether it was dead-lettered. */
function loggedOutcomes(logs: string[]): Map<string, { error: string; deadLettered: boolean }> {
  const outcomes = new Map<string, { error: string; deadLettered: boolean }>();
  for (const line of logs) {
    let fields: { message?: string; messageId?: string; error?: string; reason?: string } | undefined;
    try {
      fields = JSON.parse(line).message;
    } catch {
      continue; // a line that is not JSON reports no record
    }
    if (!fields?.messageId) continue;
    const deadLettered = fields.message?.endsWith("record moved to the dead-letter queue") === true;
    const error = fields.error ?? fields.reason;
    if (error !== undefined) outcomes.set(fields.messageId, { error, deadLettered });
  }
  return outcomes;
}

/**
 * Publishes `messages` (default: two sample records) through the ingester's topic on fauxqs and runs
 * its built artifact with your handler until the queue is empty; returns what each invocation got,
 * the dead letters with their reasons and what is left.
 */
export async function exerciseFifoIngester<T>(
  ingester: FifoIngester<T>,
  messages: FifoMessage<T>[] = SAMPLE_FIFO_MESSAGES as FifoMessage<T>[],
  options: ExerciseOptions = {},
): Promise<FifoIngesterRun> {
  const started = Date.now();
  const name = await nameOf(ingester);
  const progress = (line: string) => options.onProgress?.(`FifoIngester "${name}": ${line}`);
  return withEmulators({ ...options, onProgress: progress }, async (emulators) => {
    progress("building the artifact");
    const [artifact, topology, environment, batchSize, scaling, responseTypes, fauxqs] = await Promise.all([
      artifactOf(`FifoIngester "${name}"`, ingester.function.artifact),
      fifoTopologyOf(ingester),
      lambdaEnvironment(ingester.function.function),
      valueOf(ingester.eventSourceMapping.batchSize),
      valueOf(ingester.eventSourceMapping.scalingConfig),
      valueOf(ingester.eventSourceMapping.functionResponseTypes),
      emulators.useFauxqs(),
    ]);
    const rig = await provisionFifo(fauxqs, name, topology);
    progress("starting the function");
    const runner = await ArtifactProcess.start(
      zipBytes(artifact),
      "aws-lambda",
      {
        ...environment,
        ...fauxqsFunctionEnv(fauxqs),
        [DEAD_LETTER_QUEUE_URL_ENV]: rig.deadLetterQueueUrl,
        ...options.environment,
      },
      nodeSelector(options),
    );
    try {
      progress(`publishing ${messages.length} messages`);
      const contentDeduplication = topology.topic.contentBasedDeduplication === true;
      for (const [index, message] of messages.entries()) {
        await rig.sns.send(
          new PublishCommand({
            TopicArn: rig.topicArn,
            Message: typeof message.body === "string" ? message.body : JSON.stringify(message.body),
            MessageGroupId: message.groupId,
            MessageDeduplicationId:
              message.deduplicationId ?? (contentDeduplication ? undefined : `${started}-${index}`),
          }),
        );
      }
      const invocations: InvocationRecord[] = [];
      const deliveries: FifoDelivery[] = [];
      const lastErrors = new Map<string, string>();
      await drainQueue({
        client: rig.sqs,
        queueUrl: rig.queueUrl,
        batchSize: batchSize ?? 10,
        concurrency: scaling?.maximumConcurrency ?? 2,
        reportBatchItemFailures: (responseTypes ?? []).includes("ReportBatchItemFailures"),
        deadlineMs: options.timeoutMs ?? 60_000,
        invoke: async (event: SqsEvent) => {
          const invocation = await runner.invoke(event);
          invocations.push(invocationRecord("handler", event, invocation));
          const reported = (invocation.result as { batchItemFailures?: { itemIdentifier: string }[] } | null)
            ?.batchItemFailures;
          const failedIds = new Set(
            invocation.error
              ? event.Records.map((record) => record.messageId)
              : (reported ?? []).map((failure) => failure.itemIdentifier),
          );
          const logged = loggedOutcomes(invocation.logs);
          for (const [messageId, { error }] of logged) lastErrors.set(messageId, error);
          for (const record of event.Records) {
            const outcome = logged.get(record.messageId);
            deliveries.push({
              messageId: record.messageId,
              groupId: record.attributes.MessageGroupId ?? "",
              body: record.body,
              receiveCount: Number(record.attributes.ApproximateReceiveCount ?? 1),
              outcome: failedIds.has(record.messageId)
                ? "failed"
                : outcome?.deadLettered
                  ? "dead-lettered"
                  : "processed",
              error: outcome?.error ?? invocation.error?.message,
            });
          }
          progress(`invocation ${invocations.length}: ${event.Records.length} records, ${failedIds.size} failed`);
          if (invocation.error) throw new Error(invocation.error.message);
          return invocation.result;
        },
      });
      const deadLetters = (await receiveAll(rig.sqs, rig.deadLetterQueueUrl)).map((message): FifoDeadLetter => ({
        body: message.Body ?? "",
        groupId: message.Attributes?.MessageGroupId,
        reason:
          message.MessageAttributes?.[DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue ??
          lastErrors.get(message.MessageId ?? ""),
      }));
      return {
        component: "FifoIngester" as const,
        name,
        node: { version: runner.node.version, declaredMajor: runner.declaredMajor },
        published: messages.length,
        deliveries,
        invocations,
        deadLetters,
        remaining: await queueDepth(rig.sqs, rig.queueUrl),
        elapsedMs: Date.now() - started,
      };
    } finally {
      await runner.stop();
      rig.sqs.destroy();
      rig.sns.destroy();
    }
  });
}
