/**
 * ScheduledNotifier's rig of queue-patterns/testing (testing/scheduled-notifier.ts) as its
 * end-to-end test and `npm start` scenario use it: the fake messaging API's callbacks, the official
 * Node.js build of the artifacts' major, and the consumer's requests to the fake S3 and Secrets
 * Manager authorized by the IAM policy simulator against the policy the component gives it.
 */
import { type Artifact, buildArtifact } from "../../../components/core/artifact";
import { functionPolicy } from "../../../components/aws/lambda-function";
import { notifierEntries } from "../../../components/scheduled-notifier";
import { SCHEDULED_NOTIFIER_DEFAULTS } from "../../../components/scheduled-notifier/args";
import { type ConsumerResources, consumerPolicyStatements } from "../../../components/scheduled-notifier/policies";
import type { Fauxqs } from "../../../testing/emulators";
import type { FakeAwsCaller, FakeAwsServicesOptions } from "../../../testing/fakes/s3-secrets-manager";
import { type NotifierRig, startNotifierRig as startRig } from "../../../testing/scheduled-notifier";
import { directoryRecipients, type MessagingApi, sendThroughMessagingApi } from "../fakes/messaging-api";
import { simulatedCaller } from "../iam-simulator";
import { nodeBuild } from "../node-builds";

export type { NotifierRig } from "../../../testing/scheduled-notifier";

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

const ACCOUNT = "000000000000";
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:notifier-api-token-AbCdEf`;

/**
 * The consumer's role with the policy the component gives it (consumerPolicyStatements inside
 * LambdaFunction's functionPolicy), for the fake S3 and Secrets Manager to authorize its requests.
 * The bucket is named as the consumer's environment names it; its ARN is S3's (`arn:aws:s3:::<name>`).
 */
export function notifierConsumerCaller(
  resources: Omit<ConsumerResources, "ledgerBucketArn"> & { ledgerBucket: string },
): FakeAwsCaller {
  const { ledgerBucket, ...rest } = resources;
  const account = resources.secretArn.split(":")[4];
  return simulatedCaller(
    `arn:aws:iam::${account}:role/notifier-consumer-role`,
    JSON.parse(
      JSON.stringify(
        functionPolicy(
          `arn:aws:logs:us-east-1:${account}:log-group:notifier-consumer`,
          consumerPolicyStatements({ ...rest, ledgerBucketArn: `arn:aws:s3:::${ledgerBucket}` }),
        ),
      ),
    ),
  );
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

/** The rig with the fake messaging API's URLs in both functions' environment. */
export function startNotifierRig(options: NotifierRigOptions): Promise<NotifierRig> {
  return startRig({
    fauxqs: options.fauxqs,
    artifacts: options.artifacts,
    secretValue: options.token,
    maxReceiveCount: options.maxReceiveCount,
    prefix: options.prefix,
    environment: { DIRECTORY_URL: options.api.url, MESSAGING_API_URL: options.api.url },
    caller: notifierConsumerCaller,
    node: nodeBuild,
  });
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
