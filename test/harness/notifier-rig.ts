/**
 * ScheduledNotifier's producer and consumer artifacts, each running in a fresh process, against
 * queues on fauxqs, the fake S3 and Secrets Manager, and the fake messaging API; the consumer is
 * driven by the harness's stand-in for the SQS event source mapping. Its end-to-end test and
 * `npm start` scenario share it.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type Message, SQSClient } from "@aws-sdk/client-sqs";
import { type Artifact, buildArtifact, zipBytes } from "../../components/artifact";
import { notifierEntries } from "../../components/scheduled-notifier";
import { NOTIFIER_ENV } from "../../runtime/scheduled-notifier/contract";
import { ArtifactProcess, type Invocation } from "./artifact-runner";
import { type Fauxqs, fauxqsClientConfig, fauxqsFunctionEnv } from "./emulators";
import { directoryRecipients, type MessagingApi, sendThroughMessagingApi } from "./fake-messaging-api";
import { type FakeAwsServices, startFakeAwsServices } from "./fake-s3-secrets-manager";
import { receiveAll } from "./queue-contents";
import { drainQueue, type EventSourceStats } from "./sqs-event-source";

export interface NotifierRigOptions {
  fauxqs: Fauxqs;
  artifacts: { producer: Artifact; consumer: Artifact };
  api: MessagingApi;
  token: string;
  /** The jobs queue's maxReceiveCount; must match what the consumer artifact was built with. */
  maxReceiveCount: number;
  /** Names the queues, so rigs sharing one fauxqs never meet. */
  prefix: string;
}

export interface NotifierRig {
  sqs: SQSClient;
  jobsQueueUrl: string;
  deadLetterQueueUrl: string;
  aws: FakeAwsServices;
  /** Invokes the producer as Scheduler would for the run scheduled at `scheduledTime`. */
  runProducer(scheduledTime: string): Promise<Invocation>;
  /** Drives the consumer from the jobs queue until it is empty (the event source mapping's job). */
  drain(concurrency: number): Promise<EventSourceStats>;
  /** Takes every message out of the dead-letter queue. */
  deadLetters(): Promise<Message[]>;
  /** The consumer's log lines of every invocation so far. */
  consumerLogs: string[];
  stop(): Promise<void>;
}

const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:notifier-api-token-AbCdEf";

/** Queues on fauxqs, the fake services, and both artifacts running in their own processes. */
export async function startNotifierRig(options: NotifierRigOptions): Promise<NotifierRig> {
  const sqs = new SQSClient(fauxqsClientConfig(options.fauxqs));
  const suffix = `${options.prefix}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  const { QueueUrl: deadLetterQueueUrl = "" } = await sqs.send(
    new CreateQueueCommand({ QueueName: `notifier-dead-letters-${suffix}` }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const { QueueUrl: jobsQueueUrl = "" } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `notifier-jobs-${suffix}`,
      Attributes: {
        VisibilityTimeout: "180",
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: String(options.maxReceiveCount),
        }),
      },
    }),
  );
  const aws = await startFakeAwsServices({ arn: SECRET_ARN, value: options.token });
  const env = {
    ...fauxqsFunctionEnv(options.fauxqs),
    AWS_ENDPOINT_URL_S3: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    DIRECTORY_URL: options.api.url,
    MESSAGING_API_URL: options.api.url,
    [NOTIFIER_ENV.jobsQueueUrl]: jobsQueueUrl,
    [NOTIFIER_ENV.deadLetterQueueUrl]: deadLetterQueueUrl,
  };
  const producer = await ArtifactProcess.start(zipBytes(options.artifacts.producer), "aws-lambda", env);
  const consumer = await ArtifactProcess.start(zipBytes(options.artifacts.consumer), "aws-lambda", {
    ...env,
    [NOTIFIER_ENV.secretArn]: SECRET_ARN,
    [NOTIFIER_ENV.ledgerBucket]: "notifier-ledger",
  });
  const consumerLogs: string[] = [];
  return {
    sqs,
    jobsQueueUrl,
    deadLetterQueueUrl,
    aws,
    consumerLogs,
    runProducer: (scheduledTime) =>
      producer.invoke({
        scheduledTime,
        scheduleArn: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/notifier",
        executionId: Math.random().toString(16).slice(2),
        attemptNumber: "1",
      }),
    drain: (concurrency) =>
      drainQueue({
        client: sqs,
        queueUrl: jobsQueueUrl,
        batchSize: 10,
        concurrency,
        idleMs: 2500,
        invoke: async (event) => {
          const invocation = await consumer.invoke(event);
          consumerLogs.push(...invocation.logs);
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

/** Builds the two artifacts around the callbacks that use the fake messaging API, as the component would. */
export async function buildNotifierArtifacts(
  maxReceiveCount: number,
): Promise<{ producer: Artifact; consumer: Artifact }> {
  const entries = notifierEntries({ maxReceiveCount });
  const spec = { owner: 'ScheduledNotifier "scenario"', host: "aws-lambda" as const, nodeMajor: 22 };
  const [producer, consumer] = await Promise.all([
    buildArtifact({ ...spec, entry: entries.producer, callbacks: { recipients: directoryRecipients } }),
    buildArtifact({ ...spec, entry: entries.consumer, callbacks: { send: sendThroughMessagingApi } }),
  ]);
  return { producer, consumer };
}
