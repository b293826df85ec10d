/**
 * ScheduledNotifier's producer and consumer artifacts, each running in a fresh process, against
 * queues on fauxqs, the fake S3 and Secrets Manager, and the fake messaging API; the consumer is
 * driven by the harness's stand-in for the SQS event source mapping. Its end-to-end test and
 * `npm start` scenario share it.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type Message, SQSClient } from "@aws-sdk/client-sqs";
import { type Artifact, buildArtifact, zipBytes } from "../../../components/core/artifact";
import { functionPolicy } from "../../../components/aws/lambda-function";
import { notifierEntries } from "../../../components/scheduled-notifier";
import { SCHEDULED_NOTIFIER_DEFAULTS } from "../../../components/scheduled-notifier/args";
import { type ConsumerResources, consumerPolicyStatements } from "../../../components/scheduled-notifier/policies";
import { NOTIFIER_ENV } from "../../../runtime/scheduled-notifier/contract";
import { ArtifactProcess, type Invocation } from "../artifact-runner";
import { type Fauxqs, fauxqsClientConfig, fauxqsFunctionEnv } from "../emulators";
import { directoryRecipients, type MessagingApi, sendThroughMessagingApi } from "../fakes/messaging-api";
import { type FakeAwsServices, type FakeAwsServicesOptions, startFakeAwsServices } from "../fakes/s3-secrets-manager";
import { receiveAll } from "../queue-contents";
import { drainQueue, type EventSourceStats } from "../sqs-event-source";

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

const ACCOUNT = "000000000000";
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:notifier-api-token-AbCdEf`;
const LEDGER_BUCKET = "notifier-ledger";

/**
 * The consumer's role with the policy the component gives it (consumerPolicyStatements inside
 * LambdaFunction's functionPolicy), for the fake S3 and Secrets Manager to authorize its requests.
 * The bucket is named as the consumer's environment names it; its ARN is S3's (`arn:aws:s3:::<name>`).
 */
export function notifierConsumerCaller(
  resources: Omit<ConsumerResources, "ledgerBucketArn"> & { ledgerBucket: string },
): FakeAwsServicesOptions["caller"] {
  const { ledgerBucket, ...rest } = resources;
  const account = resources.secretArn.split(":")[4];
  return {
    roleArn: `arn:aws:iam::${account}:role/notifier-consumer-role`,
    policy: JSON.parse(
      JSON.stringify(
        functionPolicy(
          `arn:aws:logs:us-east-1:${account}:log-group:notifier-consumer`,
          consumerPolicyStatements({ ...rest, ledgerBucketArn: `arn:aws:s3:::${ledgerBucket}` }),
        ),
      ),
    ),
  };
}

/**
 * The fake S3 and Secrets Manager's options for a consumer whose ledger is `ledgerBucket`, authorizing
 * as the component's consumer role; for tests of the ledger and the consumer alone.
 */
export function fakeAwsFor(ledgerBucket: string): FakeAwsServicesOptions {
  const queue = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
  return {
    secret: { arn: SECRET_ARN, value: "t0ken" },
    caller: notifierConsumerCaller({
      jobsQueueArn: queue("jobs"),
      deadLetterQueueArn: queue("dead-letters"),
      ledgerBucket,
      secretArn: SECRET_ARN,
    }),
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
  const aws = await startFakeAwsServices({
    secret: { arn: SECRET_ARN, value: options.token },
    caller: notifierConsumerCaller({
      jobsQueueArn: await queueArn(jobsQueueUrl),
      deadLetterQueueArn,
      ledgerBucket: LEDGER_BUCKET,
      secretArn: SECRET_ARN,
    }),
  });
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
    [NOTIFIER_ENV.ledgerBucket]: LEDGER_BUCKET,
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
  const entries = notifierEntries({
    maxDeliveryCount: maxReceiveCount,
    secretCacheSeconds: SCHEDULED_NOTIFIER_DEFAULTS.secretCacheSeconds,
  });
  const spec = { owner: 'ScheduledNotifier "scenario"', host: "aws-lambda" as const, nodeMajor: 22 };
  const [producer, consumer] = await Promise.all([
    buildArtifact({ ...spec, entry: entries.producer, callbacks: { recipients: directoryRecipients } }),
    buildArtifact({ ...spec, entry: entries.consumer, callbacks: { send: sendThroughMessagingApi } }),
  ]);
  return { producer, consumer };
}
