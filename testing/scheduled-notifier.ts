/**
 * ScheduledNotifier, run locally: its producer and consumer artifacts, each in a fresh process,
 * against the jobs and dead-letter queues on fauxqs and the fake S3 (the delivery ledger) and
 * Secrets Manager (the API token) of fakes/s3-secrets-manager.ts; the consumer is driven by the
 * stand-in for the SQS event source mapping. The producer is invoked with the event EventBridge
 * Scheduler sends for one scheduled time.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type Message, SQSClient } from "@aws-sdk/client-sqs";
import { type Artifact, zipBytes } from "../components/core/artifact";
import type { ScheduledNotifier } from "../components/scheduled-notifier";
import { type JobMessage, NOTIFIER_ENV, type Recipient } from "../runtime/scheduled-notifier/contract";
import { ArtifactProcess, type Invocation, type NodeSelector, runningNode } from "./artifact-runner";
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
import { type FakeAwsCaller, type FakeAwsServices, startFakeAwsServices } from "./fakes/s3-secrets-manager";
import { receiveAll } from "./queue-contents";
import { drainQueue, type EventSourceStats } from "./sqs-event-source";

/** The resources the consumer's role is granted on, as the rig names them. */
export interface NotifierRigResources {
  jobsQueueArn: string;
  deadLetterQueueArn: string;
  ledgerBucket: string;
  secretArn: string;
}

export interface NotifierRigOptions {
  fauxqs: Fauxqs;
  artifacts: { producer: Artifact; consumer: Artifact };
  /** The API token the fake Secrets Manager holds. */
  secretValue: string;
  /** The jobs queue's maxReceiveCount; must match what the consumer artifact was built with. */
  maxReceiveCount: number;
  /** Names the queues, so rigs sharing one fauxqs never meet. */
  prefix: string;
  /** Jobs per consumer invocation (the event source mapping's batch size). @default 10 */
  batchSize?: number;
  /** Environment of both functions, over the rig's own. */
  environment?: Record<string, string>;
  /** The consumer's identity at the fake S3 and Secrets Manager. @default anyone, allowed everything */
  caller?: (resources: NotifierRigResources) => FakeAwsCaller;
  /** @default the running Node.js */
  node?: NodeSelector;
}

export interface NotifierRig {
  sqs: SQSClient;
  jobsQueueUrl: string;
  deadLetterQueueUrl: string;
  aws: FakeAwsServices;
  /** Invokes the producer as Scheduler would for the run scheduled at `scheduledTime`. */
  runProducer(scheduledTime: string): Promise<Invocation>;
  /** Invokes the producer with an event of your own (a manual run: `{ runId }`). */
  invokeProducer(event: unknown): Promise<Invocation>;
  /** Drives the consumer from the jobs queue until it is empty (the event source mapping's job). */
  drain(concurrency: number, deadlineMs?: number): Promise<EventSourceStats>;
  /** Takes every message out of the dead-letter queue. */
  deadLetters(): Promise<Message[]>;
  /** The consumer's log lines of every invocation so far. */
  consumerLogs: string[];
  /** Every consumer invocation so far. */
  consumerInvocations: InvocationRecord[];
  /** The Node.js running the functions. */
  node: NodeUsed;
  stop(): Promise<void>;
}

const ACCOUNT = "000000000000";
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:notifier-api-token-AbCdEf`;
const LEDGER_BUCKET = "notifier-ledger";

/** The event EventBridge Scheduler gives the producer for the run scheduled at `scheduledTime`. */
export function scheduledRunEvent(scheduledTime: string) {
  return {
    scheduledTime,
    scheduleArn: `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/default/notifier`,
    executionId: Math.random().toString(16).slice(2),
    attemptNumber: "1",
  };
}

/** Queues on fauxqs, the fake services, and both artifacts running in their own processes. */
export async function startNotifierRig(options: NotifierRigOptions): Promise<NotifierRig> {
  const sqs = new SQSClient(fauxqsClientConfig(options.fauxqs));
  const suffix = `${options.prefix}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  const { QueueUrl: deadLetterQueueUrl = "" } = await sqs.send(
    new CreateQueueCommand({ QueueName: `notifier-dead-letters-${suffix}` }),
  );
  const queueArn = async (queueUrl: string) => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
    );
    return Attributes?.QueueArn ?? "";
  };
  const deadLetterQueueArn = await queueArn(deadLetterQueueUrl);
  const { QueueUrl: jobsQueueUrl = "" } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `notifier-jobs-${suffix}`,
      Attributes: {
        VisibilityTimeout: "180",
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: deadLetterQueueArn,
          maxReceiveCount: String(options.maxReceiveCount),
        }),
      },
    }),
  );
  const resources = {
    jobsQueueArn: await queueArn(jobsQueueUrl),
    deadLetterQueueArn,
    ledgerBucket: LEDGER_BUCKET,
    secretArn: SECRET_ARN,
  };
  const aws = await startFakeAwsServices({
    secret: { arn: SECRET_ARN, value: options.secretValue },
    caller: options.caller?.(resources),
  });
  const env = {
    ...options.environment,
    ...fauxqsFunctionEnv(options.fauxqs),
    AWS_ENDPOINT_URL_S3: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    [NOTIFIER_ENV.jobsQueueUrl]: jobsQueueUrl,
    [NOTIFIER_ENV.deadLetterQueueUrl]: deadLetterQueueUrl,
  };
  const node = options.node ?? runningNode;
  const producer = await ArtifactProcess.start(zipBytes(options.artifacts.producer), "aws-lambda", env, node);
  const consumer = await ArtifactProcess.start(
    zipBytes(options.artifacts.consumer),
    "aws-lambda",
    { ...env, [NOTIFIER_ENV.secretArn]: SECRET_ARN, [NOTIFIER_ENV.ledgerBucket]: LEDGER_BUCKET },
    node,
  );
  const consumerLogs: string[] = [];
  const consumerInvocations: InvocationRecord[] = [];
  return {
    sqs,
    jobsQueueUrl,
    deadLetterQueueUrl,
    aws,
    consumerLogs,
    consumerInvocations,
    node: { version: consumer.node.version, declaredMajor: consumer.declaredMajor },
    runProducer: (scheduledTime) => producer.invoke(scheduledRunEvent(scheduledTime)),
    invokeProducer: (event) => producer.invoke(event),
    drain: (concurrency, deadlineMs) =>
      drainQueue({
        client: sqs,
        queueUrl: jobsQueueUrl,
        batchSize: options.batchSize ?? 10,
        concurrency,
        idleMs: 2500,
        deadlineMs,
        invoke: async (event) => {
          const invocation = await consumer.invoke(event);
          consumerLogs.push(...invocation.logs);
          consumerInvocations.push(invocationRecord("consumer", event, invocation));
          if (invocation.error) throw new Error(`${invocation.error.name}: ${invocation.error.message}`);
          return invocation.result;
        },
      }),
    deadLetters: () => receiveAll(sqs, deadLetterQueueUrl),
    async stop() {
      await Promise.all([producer.stop(), consumer.stop(), aws.stop()]);
      sqs.destroy();
    },
  };
}

/** What `exerciseScheduledNotifier` delivers. */
export interface NotifierInput {
  /**
   * The scheduled time of the run, as Scheduler states it.
   * @default now, to the minute
   */
  scheduledTime?: string;
  /**
   * The API token `send` gets as `secret` (the fake Secrets Manager holds it; your stack's real
   * token is never read).
   * @default "local-api-token"
   */
  secretValue?: string;
}

/** One job the consumer was given, and how that attempt ended. */
export interface NotifierDelivery {
  recipient: Recipient;
  idempotencyKey: string;
  /** 1 on the first delivery, then 2, 3, ... (what `context.attempt` said). */
  attempt: number;
  /** `send` threw (or the job was deferred) and the job stays for another attempt or was dead-lettered. */
  failed: boolean;
}

export interface ScheduledNotifierRun {
  component: "ScheduledNotifier";
  name: string;
  node: NodeUsed;
  /** The producer's invocation: the Scheduler event, and the run summary it returned (`enqueued`, ...). */
  producer: InvocationRecord;
  /** The jobs the producer sent downstream to the jobs queue: one per recipient your `recipients` yielded. */
  jobs: JobMessage[];
  /** Every job handed to `send`, in the order of the consumer's invocations. */
  deliveries: NotifierDelivery[];
  consumerInvocations: InvocationRecord[];
  /** Jobs in the dead-letter queue, with the consumer's reason. */
  deadLetters: { body: string; reason?: string }[];
  /** Recipients the delivery ledger records as sent. */
  sent: number;
  elapsedMs: number;
}

/** The Lambda event source mapping's `scalingConfig.maximumConcurrency`, and batch size. */
async function mappingOf(notifier: ScheduledNotifier<any>): Promise<{ batchSize: number; concurrency: number }> {
  const [batchSize, scaling] = await Promise.all([
    valueOf(notifier.eventSourceMapping.batchSize),
    valueOf(notifier.eventSourceMapping.scalingConfig),
  ]);
  return { batchSize: batchSize ?? 10, concurrency: scaling?.maximumConcurrency ?? 2 };
}

/**
 * Runs one scheduled run of the notifier's built artifacts with your `recipients` and `send`: the
 * producer for `input.scheduledTime`, then the consumer until the jobs queue is empty. Returns the
 * jobs enqueued, every attempt, the dead letters with their reasons and how many were sent.
 */
export async function exerciseScheduledNotifier<R extends Recipient>(
  notifier: ScheduledNotifier<R>,
  input: NotifierInput = {},
  options: ExerciseOptions = {},
): Promise<ScheduledNotifierRun> {
  const started = Date.now();
  const name = await nameOf(notifier);
  const progress = (line: string) => options.onProgress?.(`ScheduledNotifier "${name}": ${line}`);
  return withEmulators({ ...options, onProgress: progress }, async (emulators) => {
    progress("building the producer and consumer artifacts");
    const [producer, consumer, producerEnvironment, consumerEnvironment, redrive, mapping, fauxqs] = await Promise.all([
      artifactOf(`ScheduledNotifier "${name}" producer`, notifier.producer.artifact),
      artifactOf(`ScheduledNotifier "${name}" consumer`, notifier.consumer.artifact),
      lambdaEnvironment(notifier.producer.function),
      lambdaEnvironment(notifier.consumer.function),
      valueOf(notifier.jobsQueue.redrivePolicy),
      mappingOf(notifier),
      emulators.useFauxqs(),
    ]);
    progress("starting the fake S3 and Secrets Manager and both functions");
    const rig = await startNotifierRig({
      fauxqs,
      artifacts: { producer, consumer },
      secretValue: input.secretValue ?? "local-api-token",
      maxReceiveCount: Number(JSON.parse(redrive ?? "{}").maxReceiveCount ?? 10),
      prefix: name,
      batchSize: mapping.batchSize,
      // Both functions get the user's environment; the rig's own variables replace the component's.
      environment: { ...producerEnvironment, ...consumerEnvironment, ...options.environment },
      node: nodeSelector(options),
    });
    try {
      const scheduledTime = input.scheduledTime ?? `${new Date().toISOString().slice(0, 16)}:00Z`;
      progress(`running the producer for ${scheduledTime}`);
      const event = scheduledRunEvent(scheduledTime);
      const produced = await rig.invokeProducer(event);
      const jobs: JobMessage[] = [];
      const deliveries: NotifierDelivery[] = [];
      progress(`draining the jobs queue (${mapping.concurrency} consumers at most)`);
      await rig.drain(mapping.concurrency, options.timeoutMs ?? 60_000);
      for (const invocation of rig.consumerInvocations) {
        const records = (invocation.event as { Records: { messageId: string; body: string; attributes: any }[] })
          .Records;
        const failed = new Set(
          invocation.error
            ? records.map((record) => record.messageId)
            : (
                (invocation.result as { batchItemFailures?: { itemIdentifier: string }[] } | null)?.batchItemFailures ??
                []
              ).map((failure) => failure.itemIdentifier),
        );
        for (const record of records) {
          const job = JSON.parse(record.body) as JobMessage;
          const attempt = Number(record.attributes?.ApproximateReceiveCount ?? 1);
          if (attempt === 1) jobs.push(job);
          deliveries.push({
            recipient: job.recipient,
            idempotencyKey: job.idempotencyKey,
            attempt,
            failed: failed.has(record.messageId),
          });
        }
      }
      const deadLetters = (await rig.deadLetters()).map((message) => ({
        body: message.Body ?? "",
        reason: message.MessageAttributes?.reason?.StringValue,
      }));
      const sent = [...rig.aws.objects.values()].filter((object) => JSON.parse(object.body).state === "sent").length;
      return {
        component: "ScheduledNotifier" as const,
        name,
        node: rig.node,
        producer: invocationRecord("producer", event, produced),
        jobs,
        deliveries,
        consumerInvocations: rig.consumerInvocations,
        deadLetters,
        sent,
        elapsedMs: Date.now() - started,
      };
    } finally {
      await rig.stop();
    }
  });
}
