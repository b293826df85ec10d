/**
 * The AWS components' roles and resource policies, judged by a real IAM policy evaluator
 * (@cloud-copilot/iam-simulate) instead of by reading their JSON:
 * - every request a role's code makes (listed below, each with the file or the AWS behaviour that
 *   makes it) is allowed on the component's own resources, and denied on another account's and on
 *   another name's;
 * - no role allows an action outside that list;
 * - every TLS-only resource policy denies every action of its resource over plain HTTP.
 * Request ARNs are built here in the formats the Service Authorization Reference documents for each
 * resource type, from the names and URLs the code is given; the mocks' ARNs are never copied.
 */
import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  existingEniLookup,
  installMocks,
  MOCK_ACCOUNT,
  MOCK_REGION,
  type RecordedResource,
  resolve,
} from "../../testing/mocks";

// PersistentEniAsg adopting an ENI: the lookup answers as EC2 does, with the ENI's ARN.
const recorder = installMocks(
  existingEniLookup({
    subnetId: "subnet-0123456789abcdef0",
    privateIp: "10.0.1.10",
    description: "queue-patterns/test/iam-eni persistent ENI",
    securityGroups: ["sg-0123456789abcdef0"],
    availabilityZone: "us-east-1a",
  }),
);

import * as pulumi from "@pulumi/pulumi";
import { FifoIngester } from "../../components/fifo-ingester";
import { PersistentEniAsg } from "../../components/persistent-eni-asg";
import { ScheduledNotifier } from "../../components/scheduled-notifier";
import { ledgerObjectKey } from "../../runtime/scheduled-notifier/ledger";
import { actionsOn, allowedActions, decide, normalizeAction, type PolicyDocument } from "../harness/iam-simulator";

const OTHER_ACCOUNT = "210987654321";
const QUEUE = "aws:sqs/queue:Queue";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const FUNCTION = "aws:lambda/function:Function";
const BUCKET = "aws:s3/bucket:Bucket";
const ENI_ID = "eni-0123456789abcdef0";
const INSTANCE = `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:instance/i-0123456789abcdef0`;
const KMS_KEY = `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const PARTIAL_SECRET = `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:messaging-token`;

const named = (type: string, name: string): RecordedResource => recorder.named(type, name);
const policyOf = (type: string, name: string): PolicyDocument => JSON.parse(named(type, name).inputs.policy);
const environmentOf = (fn: string): Record<string, string> =>
  named(FUNCTION, `${fn}-function`).inputs.environment.variables;

/** Where a request goes: a resource ARN (or `*`), the request's context keys, the resource's own policy. */
interface Target {
  resource: string;
  context?: Record<string, string>;
  resourcePolicy?: PolicyDocument;
}

/** A request a role's code makes, what makes it, and the same request on what is not the component's. */
interface Call {
  action: string;
  by: string;
  /** The component's own resource, known once the component is built. */
  on: () => Target;
  /** Each must be denied; none for actions without resource-level permissions (`*` only). */
  others: () => Target[];
}

/** An SQS queue's ARN from its URL, `https://sqs.<region>.amazonaws.com/<account>/<name>`. */
function queueArn(url: string): string {
  const { hostname, pathname } = new URL(url);
  const [, account, name] = pathname.split("/");
  return `arn:aws:sqs:${hostname.split(".")[1]}:${account}:${name}`;
}

/** The same ARN in another account. */
function inOtherAccount(arn: string): string {
  return arn
    .split(":")
    .map((part, i) => (i === 4 ? OTHER_ACCOUNT : part))
    .join(":");
}

/** A role's principal ARN, from the role's name. */
const principalOf = (roleName: string) => `arn:aws:iam::${MOCK_ACCOUNT}:role/${named(ROLE, roleName).state.name}`;

/** A request on the queue at `url`; denied on that queue in another account and on another queue. */
function onQueue(action: string, by: string, url: () => string): Call {
  return {
    action,
    by,
    on: () => ({ resource: queueArn(url()) }),
    others: () => [{ resource: inOtherAccount(queueArn(url())) }, { resource: `${queueArn(url())}-other` }],
  };
}

/** A request without resource-level permissions. */
function onAnything(action: string, by: string): Call {
  return { action, by, on: () => ({ resource: "*" }), others: () => [] };
}

/** Lambda writes a function's logs with its role, into streams of its own log group. */
function logCalls(fn: string): Call[] {
  const stream = (group: string, account = MOCK_ACCOUNT) =>
    `arn:aws:logs:${MOCK_REGION}:${account}:log-group:${group}:log-stream:2025/03/25/[$LATEST]0123456789abcdef`;
  const group = () => named(FUNCTION, `${fn}-function`).inputs.loggingConfig.logGroup as string;
  return ["logs:CreateLogStream", "logs:PutLogEvents"].map((action) => ({
    action,
    by: "Lambda, writing the function's logs (lambda-function.ts loggingConfig)",
    on: () => ({ resource: stream(group()) }),
    others: () => [{ resource: stream(group(), OTHER_ACCOUNT) }, { resource: stream(`${group()}-other`) }],
  }));
}

/** Active tracing: Lambda sends the function's traces with its role. */
const TRACE_CALLS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"].map((action) =>
  onAnything(action, "Lambda, sending traces (lambda-function.ts tracingConfig Active)"),
);

/**
 * The SQS event source mapping polls, deletes and reads the queue's attributes with the function's
 * role (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html, execution role permissions).
 */
function eventSourceCalls(queueUrl: () => string): Call[] {
  return ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"].map((action) =>
    onQueue(action, "the SQS event source mapping", queueUrl),
  );
}

/** Lambda's asynchronous invocation delivers a failed event to the on-failure queue with the function's role. */
const onFailureDestination = (queueName: string) =>
  onQueue(
    "sqs:SendMessage",
    "Lambda's on-failure destination (FunctionEventInvokeConfig)",
    () => named(QUEUE, queueName).state.url,
  );

/**
 * Judges one role: each call allowed on its own resources and denied on the others, and no allowed
 * action that no call needs.
 */
function judgeRole(role: string, policyName: string, calls: Call[]): void {
  const principal = () => principalOf(role);
  const policy = () => policyOf(ROLE_POLICY, policyName);
  for (const call of calls) {
    it(`allows ${call.action} (${call.by}) on its own resource and denies it on another account's and another name's`, async () => {
      const judge = ({ resourcePolicy, ...target }: Target) =>
        decide(
          { identity: [policy()], resource: resourcePolicy },
          { principal: principal(), action: call.action, ...target },
        );
      const own = call.on();
      assert.equal(await judge(own), "Allowed", `${call.action} on ${own.resource}`);
      for (const other of call.others()) {
        assert.notEqual(
          await judge(other),
          "Allowed",
          `${call.action} on ${other.resource} ${JSON.stringify(other.context ?? {})}`,
        );
      }
    });
  }
  it("allows no action its code never calls", () => {
    const called = new Set(calls.map((call) => normalizeAction(call.action)));
    assert.deepEqual(
      allowedActions(policy()).filter((action) => !called.has(action)),
      [],
    );
  });
}

describe("FifoIngester's consumer role", () => {
  before(async () => {
    const ingester = new FifoIngester("iam-fifo", { handler: async () => {} });
    await resolve(pulumi.all([ingester.eventSourceMapping.id, ingester.function.arn, ingester.topicArn]));
    await recorder.settle();
  });

  judgeRole("iam-fifo-consumer-role", "iam-fifo-consumer-policy", [
    ...eventSourceCalls(() => named(QUEUE, "iam-fifo-queue").state.url),
    onQueue(
      "sqs:SendMessage",
      "runtime/fifo-ingester/handler.ts SendMessageCommand, a malformed record to the dead-letter queue",
      () => environmentOf("iam-fifo-consumer").FIFO_INGESTER_DLQ_URL,
    ),
    ...logCalls("iam-fifo-consumer"),
    ...TRACE_CALLS,
  ]);
});

/**
 * A key's default key policy, which lets the account's IAM policies grant use of the key: without a
 * key policy that does, KMS allows nobody, whatever their IAM policy says
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
function defaultKeyPolicy(keyArn: string): PolicyDocument {
  const account = keyArn.split(":")[4];
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  };
}

/** What the notifier's consumer calls; `secret` is the complete ARN IAM authorizes a read of the token against. */
function notifierConsumerCalls(name: string, secret: () => string, kmsKey?: string): Call[] {
  const env = () => environmentOf(`${name}-consumer`);
  const bucket = () => env().NOTIFIER_LEDGER_BUCKET;
  const record = (bucketName: string, key = ledgerObjectKey("2025-03-25T09:00:00Z:user-1")) =>
    `arn:aws:s3:::${bucketName}/${key}`;
  const onLedger = (action: string, by: string): Call => ({
    action,
    by,
    on: () => ({ resource: record(bucket()) }),
    others: () => [{ resource: record(bucket(), "other/key") }, { resource: record(`${bucket()}-other`) }],
  });
  const calls: Call[] = [
    ...eventSourceCalls(() => env().NOTIFIER_JOBS_QUEUE_URL),
    onQueue(
      "sqs:ChangeMessageVisibility",
      "runtime/scheduled-notifier/consumer.ts ChangeMessageVisibilityBatchCommand, deferring rate-limited jobs",
      () => env().NOTIFIER_JOBS_QUEUE_URL,
    ),
    onQueue(
      "sqs:SendMessage",
      "runtime/scheduled-notifier/consumer.ts SendMessageCommand, a job to the dead-letter queue",
      () => env().NOTIFIER_DEAD_LETTER_QUEUE_URL,
    ),
    onLedger("s3:GetObject", "runtime/scheduled-notifier/ledger.ts GetObjectCommand"),
    onLedger("s3:PutObject", "runtime/scheduled-notifier/ledger.ts PutObjectCommand (conditional writes)"),
    {
      action: "s3:ListBucket",
      by: "S3, telling a missing ledger record (404, not 403) to a GetObject (API_GetObject, Permissions)",
      on: () => ({ resource: `arn:aws:s3:::${bucket()}` }),
      others: () => [{ resource: `arn:aws:s3:::${bucket()}-other` }],
    },
    {
      action: "secretsmanager:GetSecretValue",
      by: "runtime/scheduled-notifier/consumer.ts SecretsProvider.get, the API token",
      on: () => ({ resource: secret() }),
      others: () => [
        { resource: inOtherAccount(secret()) },
        { resource: secret().replace(/(-[A-Za-z0-9]{6})$/, "-old$1") },
        { resource: secret().replace(/:secret:.*$/, ":secret:other-token-AbCdEf") },
      ],
    },
    ...logCalls(`${name}-consumer`),
    ...TRACE_CALLS,
  ];
  if (kmsKey) {
    const viaSecretsManager = { "kms:ViaService": `secretsmanager.${MOCK_REGION}.amazonaws.com` };
    const key = (arn: string) => ({ resource: arn, resourcePolicy: defaultKeyPolicy(arn) });
    calls.push({
      action: "kms:Decrypt",
      by: "Secrets Manager, decrypting the token with the customer managed key on the consumer's behalf",
      on: () => ({ ...key(kmsKey), context: viaSecretsManager }),
      others: () => [
        { ...key(kmsKey), context: { "kms:ViaService": `s3.${MOCK_REGION}.amazonaws.com` } },
        key(kmsKey),
        { ...key(inOtherAccount(kmsKey)), context: viaSecretsManager },
      ],
    });
  }
  return calls;
}

describe("ScheduledNotifier's roles", () => {
  before(async () => {
    const notifier = new ScheduledNotifier("iam-notifier", {
      schedule: "rate(1 day)",
      recipients: async function* () {},
      send: async () => {},
      apiToken: { value: "t0ken" },
    });
    await resolve(pulumi.all([notifier.scheduleArn, notifier.consumer.arn, notifier.eventSourceMapping.id]));
    await recorder.settle();
  });

  describe("the producer", () => {
    const env = () => environmentOf("iam-notifier-producer");
    judgeRole("iam-notifier-producer-role", "iam-notifier-producer-policy", [
      onQueue(
        "sqs:SendMessage",
        "runtime/scheduled-notifier/producer.ts SendMessageBatchCommand, which SQS authorizes as SendMessage",
        () => env().NOTIFIER_JOBS_QUEUE_URL,
      ),
      onQueue(
        "sqs:SendMessage",
        "runtime/scheduled-notifier/producer.ts SendMessageCommand, a rejected recipient to the dead-letter queue",
        () => env().NOTIFIER_DEAD_LETTER_QUEUE_URL,
      ),
      onFailureDestination("iam-notifier-failed-runs"),
      ...logCalls("iam-notifier-producer"),
      ...TRACE_CALLS,
    ]);
  });

  describe("the consumer", () => {
    const secret = () => {
      const arn = environmentOf("iam-notifier-consumer").NOTIFIER_SECRET_ARN;
      // A secret's ARN is only known from Secrets Manager: check it has the documented form.
      assert.match(arn, /^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/);
      return arn;
    };
    judgeRole(
      "iam-notifier-consumer-role",
      "iam-notifier-consumer-policy",
      notifierConsumerCalls("iam-notifier", secret),
    );
  });

  describe("the scheduler", () => {
    const producer = (account = MOCK_ACCOUNT, suffix = "") =>
      `arn:aws:lambda:${MOCK_REGION}:${account}:function:${named(FUNCTION, "iam-notifier-producer-function").state.name}${suffix}`;
    judgeRole("iam-notifier-scheduler-role", "iam-notifier-scheduler-policy", [
      {
        action: "lambda:InvokeFunction",
        by: "EventBridge Scheduler, invoking the producer with the schedule's role",
        on: () => ({ resource: producer() }),
        others: () => [{ resource: producer(OTHER_ACCOUNT) }, { resource: producer(MOCK_ACCOUNT, "-other") }],
      },
      onQueue(
        "sqs:SendMessage",
        "EventBridge Scheduler, delivering its dead-letter events with the schedule's role",
        () => named(QUEUE, "iam-notifier-failed-runs").state.url,
      ),
    ]);
  });
});

describe("ScheduledNotifier's consumer with an existing secret by partial ARN and a customer managed key", () => {
  before(async () => {
    const notifier = new ScheduledNotifier("iam-cmk", {
      schedule: "rate(1 day)",
      recipients: async function* () {},
      send: async () => {},
      apiToken: { existing: PARTIAL_SECRET, kmsKeyArn: KMS_KEY },
    });
    await resolve(pulumi.all([notifier.consumer.arn, notifier.eventSourceMapping.id]));
    await recorder.settle();
  });

  judgeRole(
    "iam-cmk-consumer-role",
    "iam-cmk-consumer-policy",
    notifierConsumerCalls("iam-cmk", () => `${PARTIAL_SECRET}-AbCdEf`, KMS_KEY),
  );
});

describe("PersistentEniAsg's attacher role", () => {
  let groupName: string;
  before(async () => {
    const component = new PersistentEniAsg("iam-eni", {
      networkInterface: { existing: ENI_ID },
      imageId: "ami-0123456789abcdef0",
      instanceType: "t4g.small",
    });
    await resolve(pulumi.all([component.autoScalingGroupArn, component.function.arn]));
    await recorder.settle();
    groupName = named("aws:autoscaling/group:Group", "iam-eni-group").inputs.name;
  });

  const eni = (account = MOCK_ACCOUNT, id = ENI_ID) => `arn:aws:ec2:${MOCK_REGION}:${account}:network-interface/${id}`;
  const ownInstance = () => ({
    resource: INSTANCE,
    context: { "ec2:ResourceTag/aws:autoscaling:groupName": groupName },
  });
  const group = (account = MOCK_ACCOUNT, name = groupName) =>
    `arn:aws:autoscaling:${MOCK_REGION}:${account}:autoScalingGroup:0f2a6b3c-1d4e-4f5a-8b6c-7d8e9f0a1b2c:autoScalingGroupName/${name}`;
  /** Attach and detach authorize both the ENI and the instance (Service Authorization Reference, EC2). */
  const moveCalls = (action: string, by: string): Call[] => [
    {
      action,
      by: `${by}, the ENI`,
      on: () => ({ resource: eni() }),
      others: () => [{ resource: eni(OTHER_ACCOUNT) }, { resource: eni(MOCK_ACCOUNT, "eni-0fedcba9876543210") }],
    },
    {
      action,
      by: `${by}, the instance`,
      on: ownInstance,
      others: () => [
        { resource: INSTANCE, context: { "ec2:ResourceTag/aws:autoscaling:groupName": `${groupName}-other` } },
        { resource: INSTANCE },
        { resource: inOtherAccount(INSTANCE), context: ownInstance().context },
      ],
    },
  ];
  const onGroup = (action: string, by: string): Call => ({
    action,
    by,
    on: () => ({ resource: group() }),
    others: () => [{ resource: group(OTHER_ACCOUNT) }, { resource: group(MOCK_ACCOUNT, `${groupName}-other`) }],
  });

  judgeRole("iam-eni-attacher-role", "iam-eni-attacher-policy", [
    ...moveCalls("ec2:AttachNetworkInterface", "runtime/persistent-eni-asg/eni.ts AttachNetworkInterfaceCommand"),
    ...moveCalls("ec2:DetachNetworkInterface", "runtime/persistent-eni-asg/eni.ts DetachNetworkInterfaceCommand"),
    onGroup(
      "autoscaling:CompleteLifecycleAction",
      "runtime/persistent-eni-asg/attacher.ts CompleteLifecycleActionCommand",
    ),
    onGroup(
      "autoscaling:RecordLifecycleActionHeartbeat",
      "runtime/persistent-eni-asg/attacher.ts RecordLifecycleActionHeartbeatCommand",
    ),
    onAnything("ec2:DescribeInstances", "runtime/persistent-eni-asg/eni.ts DescribeInstancesCommand"),
    onAnything("ec2:DescribeNetworkInterfaces", "runtime/persistent-eni-asg/eni.ts DescribeNetworkInterfacesCommand"),
    onAnything(
      "autoscaling:DescribeAutoScalingInstances",
      "runtime/persistent-eni-asg/{attacher,eni}.ts DescribeAutoScalingInstancesCommand",
    ),
    onFailureDestination("iam-eni-failures"),
    ...logCalls("iam-eni-attacher"),
    ...TRACE_CALLS,
  ]);
});

/**
 * Every action an SNS topic policy can name ("Valid Amazon SNS policy actions",
 * https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html).
 */
const TOPIC_POLICY_ACTIONS = [
  "sns:AddPermission",
  "sns:DeleteTopic",
  "sns:GetDataProtectionPolicy",
  "sns:GetTopicAttributes",
  "sns:ListSubscriptionsByTopic",
  "sns:ListTagsForResource",
  "sns:Publish",
  "sns:PutDataProtectionPolicy",
  "sns:RemovePermission",
  "sns:SetTopicAttributes",
  "sns:Subscribe",
];

describe("TLS-only resource policies", () => {
  const caller = `arn:aws:iam::${MOCK_ACCOUNT}:role/anyone`;
  const allowEverything: PolicyDocument = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
  };
  /** The actions of `actions` that a caller allowed everything may still take on `resource` over plain HTTP. */
  async function notDeniedWithoutTls(policy: PolicyDocument, actions: string[], resource: string): Promise<string[]> {
    const open: string[] = [];
    for (const action of actions) {
      const decision = await decide(
        { identity: [allowEverything], resource: policy },
        { principal: caller, action, resource, secureTransport: false },
      );
      if (decision !== "ExplicitlyDenied") open.push(action);
    }
    return open;
  }

  it("each queue's policy denies every SQS queue action without TLS and allows them with it", async () => {
    const actions = await actionsOn("sqs", "queue");
    for (const [queue, policy] of [
      ["iam-fifo-queue", "iam-fifo-queue-policy"],
      ["iam-fifo-dlq", "iam-fifo-dlq-policy"],
      ["iam-notifier-jobs", "iam-notifier-jobs-policy"],
      ["iam-notifier-dead-letters", "iam-notifier-dead-letters-policy"],
      ["iam-notifier-failed-runs", "iam-notifier-failed-runs-policy"],
    ]) {
      const arn = queueArn(named(QUEUE, queue).state.url);
      const document = policyOf("aws:sqs/queuePolicy:QueuePolicy", policy);
      assert.deepEqual(await notDeniedWithoutTls(document, actions, arn), [], queue);
      const overTls = await decide(
        { identity: [allowEverything], resource: document },
        { principal: caller, action: "sqs:SendMessage", resource: arn },
      );
      assert.equal(overTls, "Allowed", queue);
    }
  });

  it("the created topic's policy denies without TLS every action a topic policy can name (SNS: valid policy actions)", async () => {
    const topic = named("aws:sns/topic:Topic", "iam-fifo-topic");
    const arn = `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${topic.state.name}`;
    const document = policyOf("aws:sns/topicPolicy:TopicPolicy", "iam-fifo-topic-policy");
    assert.deepEqual(await notDeniedWithoutTls(document, TOPIC_POLICY_ACTIONS, arn), []);
  });

  it("leaves out only topic actions a topic policy cannot name: subscription actions, creation, confirmation and tagging", async () => {
    // A new SNS topic action shows up here, to be checked against the documented list.
    assert.deepEqual(
      (await actionsOn("sns", "topic")).filter((action) => !TOPIC_POLICY_ACTIONS.includes(action)),
      [
        "sns:ConfirmSubscription",
        "sns:CreateTopic",
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:TagResource",
        "sns:Unsubscribe",
        "sns:UntagResource",
      ],
    );
  });

  it("the ledger bucket's policy denies every S3 bucket and object action without TLS", async () => {
    const bucket = `arn:aws:s3:::${named(BUCKET, "iam-notifier-ledger").id}`;
    const document = policyOf("aws:s3/bucketPolicy:BucketPolicy", "iam-notifier-ledger-policy");
    assert.deepEqual(await notDeniedWithoutTls(document, await actionsOn("s3", "bucket"), bucket), []);
    assert.deepEqual(await notDeniedWithoutTls(document, await actionsOn("s3", "object"), `${bucket}/ledger/0123`), []);
  });
});
