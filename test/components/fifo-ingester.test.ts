import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, MOCK_ACCOUNT, MOCK_REGION, type RecordedResource, resolve } from "../../testing/mocks";

const recorder = installMocks();

import {
  FifoIngester,
  type FifoIngesterArgs,
  requireFifoTopicArn,
  validateFifoIngesterArgs,
} from "../../components/fifo-ingester";
import { SNS_TOPIC_POLICY_ACTIONS } from "../../components/aws/secure-defaults";
import { InvalidArgumentsError } from "../../components/core/validation";
import { deploymentErrors } from "../harness/deployment-errors";
import { decide } from "../harness/iam-simulator";

const QUEUE = "aws:sqs/queue:Queue";
const QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy";
const TOPIC = "aws:sns/topic:Topic";
const TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy";
const SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription";
const MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping";
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const FUNCTION = "aws:lambda/function:Function";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

const arn = (service: string, name: string) => `arn:aws:${service}:${MOCK_REGION}:${MOCK_ACCOUNT}:${name}`;
const EXISTING_TOPIC = arn("sns", "listings-events.fifo");
const STANDARD_TOPIC = arn("sns", "listings");
const LONG_NAME = "l".repeat(39);

interface Listing {
  id: string;
}

/** Builds an ingester and waits until every child, the function and its mapping included, is registered. */
async function ingester(name: string, args: Partial<FifoIngesterArgs<Listing>> = {}) {
  const component = new FifoIngester<Listing>(name, {
    handler: async (listing, meta) => {
      console.log("ingesting", listing.id, meta.sequenceNumber);
    },
    ...args,
  });
  await Promise.all([
    resolve(component.eventSourceMapping.id),
    resolve(component.alarm.id),
    resolve(component.subscription.id),
    resolve(component.topicArn),
  ]);
  await recorder.settle();
  return component;
}

const named = (type: string, name: string): RecordedResource => recorder.named(type, name);
const policyOf = (resource: RecordedResource) => JSON.parse(resource.inputs.policy);
const childrenOf = (parent: string) =>
  recorder.resources.filter((r) => r.parent === parent).map((r) => `${r.type} ${r.name}`);

describe("a FifoIngester with default arguments", () => {
  let component: FifoIngester<Listing>;
  before(async () => {
    component = await ingester("listings");
  });

  const queueArn = () => named(QUEUE, "listings-queue").state.arn;
  const deadLetterArn = () => named(QUEUE, "listings-dlq").state.arn;
  const topicArn = () => named(TOPIC, "listings-topic").state.arn;

  it("creates an SNS FIFO topic with content-based deduplication, high throughput and SNS-managed KMS encryption", () => {
    assert.deepEqual(named(TOPIC, "listings-topic").inputs, {
      fifoTopic: true,
      contentBasedDeduplication: true,
      fifoThroughputScope: "MessageGroup",
      kmsMasterKeyId: "alias/aws/sns",
    });
  });

  // That this list is every action a topic policy can name is judged in iam-policies.test.ts.
  it("gives the topic a policy that denies without TLS every action a topic policy can name (SNS: valid policy actions)", () => {
    const policy = named(TOPIC_POLICY, "listings-topic-policy");
    assert.equal(policy.inputs.arn, topicArn());
    assert.deepEqual(policyOf(policy), {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: SNS_TOPIC_POLICY_ACTIONS,
          Resource: topicArn(),
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ],
    });
  });

  it("updates the high-throughput topic in place if high throughput is turned on later: SNS switches Topic to MessageGroup", () => {
    assert.equal(named(TOPIC, "listings-topic").options.replaceOnChanges, undefined);
    assert.equal(named(TOPIC, "listings-topic").options.deleteBeforeReplace, undefined);
  });

  it("creates a high-throughput FIFO queue with SSE-SQS, redriving to the dead-letter queue after 5 receives", () => {
    assert.deepEqual(named(QUEUE, "listings-queue").inputs, {
      fifoQueue: true,
      deduplicationScope: "messageGroup",
      fifoThroughputLimit: "perMessageGroupId",
      sqsManagedSseEnabled: true,
      visibilityTimeoutSeconds: 180,
      messageRetentionSeconds: 345_600,
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn(), maxReceiveCount: 5 }),
    });
  });

  it("sets the queue's visibility timeout to six times the function timeout", () => {
    assert.equal(named(FUNCTION, "listings-consumer-function").inputs.timeout, 30);
    assert.equal(named(QUEUE, "listings-queue").inputs.visibilityTimeoutSeconds, 6 * 30);
  });

  it("creates a high-throughput FIFO dead-letter queue with SSE-SQS that keeps messages 14 days", () => {
    assert.deepEqual(named(QUEUE, "listings-dlq").inputs, {
      fifoQueue: true,
      deduplicationScope: "messageGroup",
      fifoThroughputLimit: "perMessageGroupId",
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 1_209_600,
    });
  });

  it("lets only the topic send to the queue, and only over TLS", () => {
    const policy = named(QUEUE_POLICY, "listings-queue-policy");
    assert.equal(policy.inputs.queueUrl, named(QUEUE, "listings-queue").state.url);
    assert.deepEqual(policyOf(policy), {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "sqs:*",
          Resource: queueArn(),
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
        {
          Sid: "AllowTopicToDeliver",
          Effect: "Allow",
          Principal: { Service: "sns.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: queueArn(),
          Condition: { ArnEquals: { "aws:SourceArn": topicArn() } },
        },
      ],
    });
  });

  it("lets only the topic dead-letter what it cannot deliver, and only over TLS", () => {
    const policy = named(QUEUE_POLICY, "listings-dlq-policy");
    assert.equal(policy.inputs.queueUrl, named(QUEUE, "listings-dlq").state.url);
    assert.deepEqual(policyOf(policy), {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "sqs:*",
          Resource: deadLetterArn(),
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
        {
          Sid: "AllowTopicToDeadLetterUndeliverable",
          Effect: "Allow",
          Principal: { Service: "sns.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: deadLetterArn(),
          Condition: { ArnEquals: { "aws:SourceArn": topicArn() } },
        },
      ],
    });
  });

  it("subscribes the queue to the topic with raw message delivery and the dead-letter queue for undeliverable messages", () => {
    assert.deepEqual(named(SUBSCRIPTION, "listings-subscription").inputs, {
      topic: topicArn(),
      protocol: "sqs",
      endpoint: queueArn(),
      rawMessageDelivery: true,
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn() }),
    });
  });

  it("maps the queue to the function in batches of 10 with partial batch responses and no batching window", () => {
    const mapping = named(MAPPING, "listings-source");
    assert.deepEqual(mapping.inputs, {
      eventSourceArn: queueArn(),
      functionName: named(FUNCTION, "listings-consumer-function").state.arn,
      batchSize: 10,
      functionResponseTypes: ["ReportBatchItemFailures"],
      enabled: true,
    });
  });

  it("grants the function exactly: its logs, X-Ray, consuming its queue and sending malformed records to its dead-letter queue", () => {
    const logGroupArn = named("aws:cloudwatch/logGroup:LogGroup", "listings-consumer-logs").state.arn;
    assert.deepEqual(policyOf(named(ROLE_POLICY, "listings-consumer-policy")).Statement, [
      {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [`${logGroupArn}:*`],
      },
      {
        Sid: "WriteTraces",
        Effect: "Allow",
        Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        Resource: ["*"],
      },
      {
        Sid: "ConsumeQueue",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        Resource: [queueArn()],
      },
      { Sid: "DeadLetterRejectedRecords", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [deadLetterArn()] },
    ]);
  });

  it("tells the function where the dead-letter queue is", () => {
    assert.deepEqual(named(FUNCTION, "listings-consumer-function").inputs.environment, {
      variables: { FIFO_INGESTER_DLQ_URL: named(QUEUE, "listings-dlq").state.url },
    });
  });

  it("alarms when the dead-letter queue holds any message", () => {
    assert.deepEqual(named(ALARM, "listings-dlq-alarm").inputs, {
      alarmDescription:
        'FifoIngester "listings": messages in the dead-letter queue (failed 5 times, malformed, or undeliverable).',
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: named(QUEUE, "listings-dlq").state.name },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [],
    });
  });

  it("packages the handler with the FifoIngester runtime, JSON bodies and the redrive count", async () => {
    const bundle = (await resolve(component.function.artifact)).files["index.js"];
    assert.ok(
      /\.createConsumer\(\w+,\{body:"json",maxReceiveCount:5\}\)/.test(bundle),
      "the runtime starts with the options",
    );
    assert.ok(bundle.includes('console.log("ingesting"'), "the handler is in the bundle");
  });

  it("exposes the topic, queues and function as outputs", async () => {
    assert.equal(await resolve(component.topicArn), topicArn());
    assert.equal(await resolve(component.queueArn), queueArn());
    assert.equal(await resolve(component.queueUrl), named(QUEUE, "listings-queue").state.url);
    assert.equal(await resolve(component.deadLetterQueueArn), deadLetterArn());
    assert.equal(await resolve(component.deadLetterQueueUrl), named(QUEUE, "listings-dlq").state.url);
    assert.equal(await resolve(component.functionName), named(FUNCTION, "listings-consumer-function").state.name);
  });

  it("parents every child to the component", () => {
    assert.deepEqual(
      childrenOf("listings").sort(),
      [
        `${ALARM} listings-dlq-alarm`,
        `${MAPPING} listings-source`,
        `${QUEUE_POLICY} listings-dlq-policy`,
        `${QUEUE_POLICY} listings-queue-policy`,
        `${QUEUE} listings-dlq`,
        `${QUEUE} listings-queue`,
        `${SUBSCRIPTION} listings-subscription`,
        `${TOPIC_POLICY} listings-topic-policy`,
        `${TOPIC} listings-topic`,
        "queue-patterns:aws:LambdaFunction listings-consumer",
      ].sort(),
    );
  });
});

describe("a FifoIngester with arguments", () => {
  it("subscribes to an existing FIFO topic instead of creating one", async () => {
    await ingester("existing", { topic: { existing: EXISTING_TOPIC } });
    assert.equal(recorder.ofType(TOPIC).filter((r) => r.name.startsWith("existing")).length, 0);
    assert.equal(recorder.ofType(TOPIC_POLICY).filter((r) => r.name.startsWith("existing")).length, 0);
    assert.equal(named(SUBSCRIPTION, "existing-subscription").inputs.topic, EXISTING_TOPIC);
    const allow = policyOf(named(QUEUE_POLICY, "existing-queue-policy")).Statement.find(
      (s: { Sid: string }) => s.Sid === "AllowTopicToDeliver",
    );
    assert.deepEqual(allow?.Condition, { ArnEquals: { "aws:SourceArn": EXISTING_TOPIC } });
  });

  it("creates the topic with the given KMS key and content-based deduplication", async () => {
    await ingester("own-key", { topic: { kmsKeyId: "alias/listings", contentBasedDeduplication: false } });
    const inputs = named(TOPIC, "own-key-topic").inputs;
    assert.equal(inputs.kmsMasterKeyId, "alias/listings");
    assert.equal(inputs.contentBasedDeduplication, false);
  });

  it("passes the function settings to the consumer: architecture, memory, runtime", async () => {
    await ingester("x86", { function: { architecture: "x86_64", memorySizeMb: 512, runtime: "nodejs22.x" } });
    const inputs = named(FUNCTION, "x86-consumer-function").inputs;
    assert.deepEqual(inputs.architectures, ["x86_64"]);
    assert.equal(inputs.memorySize, 512);
    assert.equal(inputs.runtime, "nodejs22.x");
  });

  it("turns high throughput off on the queues and the topic", async () => {
    await ingester("standard-throughput", { highThroughput: false });
    for (const queue of ["standard-throughput-queue", "standard-throughput-dlq"]) {
      assert.equal(named(QUEUE, queue).inputs.deduplicationScope, "queue");
      assert.equal(named(QUEUE, queue).inputs.fifoThroughputLimit, "perQueue");
    }
    assert.equal(named(TOPIC, "standard-throughput-topic").inputs.fifoThroughputScope, "Topic");
  });

  it("replaces the topic when high throughput is turned off: SNS cannot switch fifoThroughputScope from MessageGroup back to Topic (sns fifo-high-throughput)", async () => {
    await ingester("switched-back", { highThroughput: false });
    const { options } = named(TOPIC, "switched-back-topic");
    assert.deepEqual(options.replaceOnChanges, ["fifoThroughputScope"]);
    // Auto-named: the replacement is created first, then the old topic deleted.
    assert.equal(options.deleteBeforeReplace, undefined);
  });

  it("deletes a topic with a fixed name before creating its replacement, since two topics cannot share a name", async () => {
    await ingester("fixed-name", {
      highThroughput: false,
      transform: { topic: (args) => ({ ...args, name: "listings-events.fifo" }) },
    });
    const { options } = named(TOPIC, "fixed-name-topic");
    assert.deepEqual(options.replaceOnChanges, ["fifoThroughputScope"]);
    assert.equal(options.deleteBeforeReplace, true);
  });

  it("adds the handler's permissions to the consumer's role: the handler may write to the user's table", async () => {
    const table = arn("dynamodb", "table/listings");
    await ingester("permitted", {
      function: { permissions: [{ actions: ["dynamodb:PutItem"], resources: [table] }] },
    });
    const policy = policyOf(named(ROLE_POLICY, "permitted-consumer-policy"));
    assert.deepEqual(
      policy.Statement.find((s: { Sid: string }) => s.Sid === "CallbackPermission0"),
      { Sid: "CallbackPermission0", Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [table] },
    );
    const principal = named("aws:iam/role:Role", "permitted-consumer-role").state.arn;
    const put = (resource: string) =>
      decide({ identity: [policy] }, { principal, action: "dynamodb:PutItem", resource });
    assert.equal(await put(table), "Allowed");
    assert.equal(await put(arn("dynamodb", "table/other")), "ImplicitlyDenied");
  });

  it("derives the visibility timeout from a longer function timeout, and takes batch size, concurrency and delivery count", async () => {
    await ingester("tuned", {
      function: { timeoutSeconds: 120 },
      batchSize: 5,
      maxConcurrency: 50,
      maxDeliveryCount: 3,
    });
    assert.equal(named(FUNCTION, "tuned-consumer-function").inputs.timeout, 120);
    assert.equal(named(QUEUE, "tuned-queue").inputs.visibilityTimeoutSeconds, 720);
    assert.equal(JSON.parse(named(QUEUE, "tuned-queue").inputs.redrivePolicy).maxReceiveCount, 3);
    const mapping = named(MAPPING, "tuned-source").inputs;
    assert.equal(mapping.batchSize, 5);
    assert.deepEqual(mapping.scalingConfig, { maximumConcurrency: 50 });
  });

  it("sends the alarm to the given SNS topic", async () => {
    const onCall = arn("sns", "on-call");
    await ingester("alarmed", { alarmActions: [onCall] });
    assert.deepEqual(named(ALARM, "alarmed-dlq-alarm").inputs.alarmActions, [onCall]);
  });

  it("grants the dead-letter send in raw mode too, where the callback may reject a record (RejectMessage)", async () => {
    await ingester("raw", { body: "raw" });
    const sids = policyOf(named(ROLE_POLICY, "raw-consumer-policy")).Statement.map((s: { Sid: string }) => s.Sid);
    assert.deepEqual(sids, ["WriteOwnLogs", "WriteTraces", "ConsumeQueue", "DeadLetterRejectedRecords"]);
  });

  it("merges the caller's environment with the dead-letter queue URL", async () => {
    await ingester("with-env", { environment: { API_URL: "https://api.example.com" } });
    const variables = named(FUNCTION, "with-env-consumer-function").inputs.environment.variables;
    assert.deepEqual(Object.keys(variables).sort(), ["API_URL", "FIFO_INGESTER_DLQ_URL"]);
  });

  it("applies the transform escape hatches to the children they name", async () => {
    await ingester("transformed", {
      transform: {
        queue: (args) => ({ ...args, tags: { team: "ingest" } }),
        eventSourceMapping: (args) => ({ ...args, enabled: false }),
        function: { function: (args) => ({ ...args, description: "listings" }) },
      },
    });
    assert.deepEqual(named(QUEUE, "transformed-queue").inputs.tags, { team: "ingest" });
    assert.equal(named(MAPPING, "transformed-source").inputs.enabled, false);
    assert.equal(named(FUNCTION, "transformed-consumer-function").inputs.description, "listings");
  });
});

describe("FifoIngester argument validation", () => {
  const handler = async () => {};
  const problems = (args: Partial<FifoIngesterArgs<never>>, name = "listings") => {
    try {
      validateFifoIngesterArgs(name, { handler, ...args }).throwIfAny();
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };
  const owner = 'FifoIngester "listings"';

  it("accepts the defaults", () => {
    assert.equal(problems({}), "");
  });

  const rejected: {
    argument: string;
    what: string;
    args: Partial<FifoIngesterArgs<never>>;
    name?: string;
    message: string;
  }[] = [
    {
      argument: "batchSize",
      what: "above 10",
      args: { batchSize: 11 },
      message: `${owner}: batchSize 11 is out of range; SQS FIFO allows 1..10.`,
    },
    {
      argument: "batchSize",
      what: "of 0",
      args: { batchSize: 0 },
      message: `${owner}: batchSize 0 is out of range; SQS FIFO allows 1..10.`,
    },
    {
      argument: "batchSize",
      what: "that is fractional",
      args: { batchSize: 2.5 },
      message: `${owner}: batchSize 2.5 is out of range; SQS FIFO allows 1..10.`,
    },
    {
      argument: "maxConcurrency",
      what: "below 2",
      args: { maxConcurrency: 1 },
      message: `${owner}: maxConcurrency 1 is out of range; Lambda's SQS maximum concurrency allows 2..1000.`,
    },
    {
      argument: "maxConcurrency",
      what: "above 1000",
      args: { maxConcurrency: 1001 },
      message: `${owner}: maxConcurrency 1001 is out of range; Lambda's SQS maximum concurrency allows 2..1000.`,
    },
    {
      argument: "maxConcurrency",
      what: "above the reserved concurrency",
      args: { maxConcurrency: 50, function: { reservedConcurrency: 10 } },
      message: `${owner}: maxConcurrency 50 is above function.reservedConcurrency 10; Lambda would throttle the extra batches. Set maxConcurrency to at most 10.`,
    },
    {
      argument: "maxDeliveryCount",
      what: "of 0",
      args: { maxDeliveryCount: 0 },
      message: `${owner}: maxDeliveryCount 0 is out of range; an SQS redrive policy allows 1..1000.`,
    },
    {
      argument: "function.timeoutSeconds",
      what: "above 900 seconds",
      args: { function: { timeoutSeconds: 901 } },
      message: `${owner}: function.timeoutSeconds 901 is out of range; Lambda allows 1..900.`,
    },
    {
      argument: "function.timeoutSeconds",
      what: "of 0",
      args: { function: { timeoutSeconds: 0 } },
      message: `${owner}: function.timeoutSeconds 0 is out of range; Lambda allows 1..900.`,
    },
    {
      argument: "function.memorySizeMb",
      what: "Lambda does not offer",
      args: { function: { memorySizeMb: 64 } },
      message: `${owner}: function.memorySizeMb 64 is out of range; Lambda allows 128..10240.`,
    },
    {
      argument: "visibilityTimeoutSeconds",
      what: "below six times the function timeout",
      args: { function: { timeoutSeconds: 60 }, visibilityTimeoutSeconds: 120 },
      message: `${owner}: visibilityTimeoutSeconds 120 is below 6 x function.timeoutSeconds (60); use at least 360 so a batch still running is not delivered again, or lower function.timeoutSeconds.`,
    },
    {
      argument: "visibilityTimeoutSeconds",
      what: "above 12 hours",
      args: { visibilityTimeoutSeconds: 50_000 },
      message: `${owner}: visibilityTimeoutSeconds 50000 is out of range; SQS allows 0..43200.`,
    },
    {
      argument: "messageRetentionSeconds",
      what: "below one minute",
      args: { messageRetentionSeconds: 30 },
      message: `${owner}: messageRetentionSeconds 30 is out of range; SQS allows 60..1209600.`,
    },
    {
      argument: "deadLetterRetentionSeconds",
      what: "above 14 days",
      args: { deadLetterRetentionSeconds: 2_000_000 },
      message: `${owner}: deadLetterRetentionSeconds 2000000 is out of range; SQS allows 60..1209600.`,
    },
    {
      argument: "name",
      what: "SQS cannot use",
      args: {},
      name: "my.listings",
      message:
        'FifoIngester "my.listings": name "my.listings" contains "."; FifoIngester derives "<name>-consumer-function" and Lambda function names allow only letters, digits, hyphens and underscores.',
    },
    {
      argument: "name",
      what: "too long for the consumer function's name",
      args: {},
      name: LONG_NAME,
      message: `FifoIngester "${LONG_NAME}": name "${LONG_NAME}" is 39 characters; FifoIngester derives "<name>-consumer-function" (Lambda function names allow 64 characters including Pulumi's 8-character suffix), so name allows at most 38.`,
    },
    {
      argument: "topic.existing",
      what: "that is a standard topic where a FIFO topic is needed",
      args: { topic: { existing: STANDARD_TOPIC } },
      message: `${owner}: topic.existing "${STANDARD_TOPIC}" is a standard topic; only a FIFO topic (name ending in .fifo) can deliver to an SQS FIFO queue. Pass a FIFO topic, or omit topic.existing to create one.`,
    },
    {
      argument: "topic.existing",
      what: "that is not an SNS ARN",
      args: { topic: { existing: arn("sqs", "listings.fifo") } },
      message: `${owner}: topic.existing "${arn("sqs", "listings.fifo")}" is not an SNS topic ARN; expected arn:aws:sns:<region>:<account>:<name>.fifo.`,
    },
    {
      argument: "topic.kmsKeyId",
      what: "together with an existing topic",
      args: { topic: { existing: EXISTING_TOPIC, kmsKeyId: "alias/mine" } as never },
      message: `${owner}: topic.kmsKeyId "alias/mine" applies only to a topic the component creates; set it on the existing topic, or omit topic.existing.`,
    },
    {
      argument: "topic.contentBasedDeduplication",
      what: "together with an existing topic",
      args: { topic: { existing: EXISTING_TOPIC, contentBasedDeduplication: false } as never },
      message: `${owner}: topic.contentBasedDeduplication false applies only to a topic the component creates; set it on the existing topic, or omit topic.existing.`,
    },
    {
      argument: "handler",
      what: "that is missing",
      args: { handler: undefined },
      message: `${owner}: handler (missing) must be a function: async (record, meta) => void.`,
    },
    {
      argument: "body",
      what: "that is an unknown format",
      args: { body: "xml" as never },
      message: `${owner}: body "xml" is not a body format; use "json" or "raw".`,
    },
    {
      argument: "function.permissions",
      what: "that names no resource",
      args: { function: { permissions: [{ actions: ["dynamodb:PutItem"], resources: [] }] } },
      message: `${owner}: function.permissions[0].resources [] must list the ARNs the actions apply to, e.g. [table.arn].`,
    },
    {
      argument: "environment._HANDLER",
      what: "that Lambda reserves",
      args: { environment: { _HANDLER: "index.main" } },
      message: `${owner}: environment._HANDLER "index.main" is a key Lambda sets itself and refuses in a function's configuration; choose another name (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).`,
    },
    {
      argument: "environment.FIFO_INGESTER_DLQ_URL",
      what: "that the component sets itself",
      args: { environment: { FIFO_INGESTER_DLQ_URL: "https://sqs.example.com/other" } },
      message: `${owner}: environment.FIFO_INGESTER_DLQ_URL "https://sqs.example.com/other" is set by the component itself; choose another name.`,
    },
    {
      argument: "environment.api-url",
      what: "that is not an environment variable name",
      args: { environment: { "api-url": "https://api.example.com" } },
      message: `${owner}: environment.api-url "https://api.example.com" has a name that is not an environment variable name; use at least two letters, digits and _, starting with a letter.`,
    },
    {
      argument: "alarmActions",
      what: "that is not an ARN",
      args: { alarmActions: [arn("sns", "on-call"), "on-call"] },
      message: `${owner}: alarmActions[1] "on-call" is not an ARN; CloudWatch alarm actions are ARNs, e.g. an SNS topic's "arn:aws:sns:us-east-1:123456789012:on-call".`,
    },
  ];
  for (const row of rejected) {
    it(`rejects ${row.argument} ${row.what}`, () => {
      assert.equal(problems(row.args, row.name), row.message);
    });
  }

  it("reports every problem at once", () => {
    assert.equal(
      problems({ batchSize: 20, maxConcurrency: 1 }),
      [
        `${owner}: batchSize 20 is out of range; SQS FIFO allows 1..10.`,
        `${owner}: maxConcurrency 1 is out of range; Lambda's SQS maximum concurrency allows 2..1000.`,
      ].join("\n"),
    );
  });

  it("checks a topic.existing Output at deployment with the same message", () => {
    const standard = arn("sns", "plain");
    assert.throws(() => requireFifoTopicArn(owner, standard), {
      name: "InvalidArgumentsError",
      message: `${owner}: topic.existing "${standard}" is a standard topic; only a FIFO topic (name ending in .fifo) can deliver to an SQS FIFO queue. Pass a FIFO topic, or omit topic.existing to create one.`,
    });
    assert.equal(requireFifoTopicArn(owner, EXISTING_TOPIC), EXISTING_TOPIC);
  });

  it("fails the deployment when environment holds a secret, naming the key and where secrets go", async () => {
    const errors = await deploymentErrors(async () => {
      // The transform keeps what the component gives Lambda as environment, and registers the function without it.
      let given: pulumi.Input<unknown> = undefined;
      new FifoIngester("leaky", {
        handler,
        environment: { API_KEY: pulumi.secret("k3y") },
        transform: {
          function: {
            function: (functionArgs) => {
              given = functionArgs.environment;
              return { ...functionArgs, environment: undefined };
            },
          },
        },
      });
      await assert.rejects(resolve(given));
    });
    assert.ok(errors.length > 0, "the deployment fails");
    for (const message of errors) {
      assert.match(
        message,
        /FifoIngester "leaky": environment\.API_KEY \(an Output\) is a secret; environment variables are plain text in the function's configuration\. Store the secret in Secrets Manager, grant secretsmanager:GetSecretValue on it with function\.permissions and read it at run time\.$/,
      );
    }
  });

  // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html: provisioned mode or maximum concurrency, not both.
  it("rejects provisioned mode set through transform.eventSourceMapping together with maxConcurrency", () => {
    assert.throws(
      () =>
        new FifoIngester("provisioned", {
          handler,
          maxConcurrency: 5,
          transform: {
            eventSourceMapping: (mapping) => ({
              ...mapping,
              provisionedPollerConfig: { minimumPollers: 2, maximumPollers: 10 },
            }),
          },
        }),
      {
        name: "InvalidArgumentsError",
        message:
          'FifoIngester "provisioned": transform.eventSourceMapping.provisionedPollerConfig {"minimumPollers":2,"maximumPollers":10} ' +
          "(provisioned mode) cannot be combined with a maximum concurrency (maxConcurrency, scalingConfig.maximumConcurrency 5): Lambda takes one or the other for SQS. In provisioned mode, bound concurrency with provisionedPollerConfig.maximumPollers and set scalingConfig: undefined in the same transform; otherwise remove provisionedPollerConfig.",
      },
    );
  });

  it("makes the constructor throw before creating anything", () => {
    assert.throws(
      () => new FifoIngester("bad-batch", { handler, batchSize: 25 }),
      (error: Error) =>
        error instanceof InvalidArgumentsError &&
        error.message === 'FifoIngester "bad-batch": batchSize 25 is out of range; SQS FIFO allows 1..10.',
    );
    assert.equal(recorder.resources.filter((r) => r.name.startsWith("bad-batch-")).length, 0);
  });
});
