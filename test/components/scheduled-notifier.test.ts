import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { installMocks, MOCK_ACCOUNT, type RecordedResource, resolve } from "../../testing/mocks";

const recorder = installMocks();

import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import {
  ScheduledNotifier,
  type ScheduledNotifierArgs,
  validateScheduledNotifierArgs,
} from "../../components/scheduled-notifier";
import { InvalidArgumentsError } from "../../components/core/validation";
import { deploymentErrors } from "../harness/deployment-errors";
import { decide } from "../harness/iam-simulator";

const QUEUE = "aws:sqs/queue:Queue";
const FUNCTION = "aws:lambda/function:Function";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const TOKEN = "s3cr3t-t0ken";

const baseArgs: ScheduledNotifierArgs = {
  schedule: "cron(0 9 ? * MON-FRI *)",
  recipients: async function* () {
    yield { id: "user-1" };
  },
  send: async () => {},
  apiToken: { value: pulumi.secret(TOKEN) },
};

/** How the engine sees a secret input: the value wrapped with Pulumi's secret signature. */
const secretValue = (value: string) => ({ [rpc.specialSigKey]: rpc.specialSecretSig, value });

const arnOf = (type: string, name: string) => recorder.named(type, name).state.arn as string;
const urlOf = (name: string) => recorder.named(QUEUE, name).state.url as string;

/** The statements a function's role policy grants beyond logs and traces (which LambdaFunction adds). */
function ownStatements(functionName: string): any[] {
  const policy = JSON.parse(recorder.named(ROLE_POLICY, `${functionName}-policy`).inputs.policy);
  return policy.Statement.filter((s: any) => s.Sid !== "WriteOwnLogs" && s.Sid !== "WriteTraces");
}

function childrenOf(name: string): RecordedResource[] {
  return recorder.resources.filter((r) => r.name.startsWith(`${name}-`));
}

describe("ScheduledNotifier", () => {
  let notifier: ScheduledNotifier;
  before(async () => {
    notifier = new ScheduledNotifier("reminders", {
      ...baseArgs,
      timeZone: "Europe/Berlin",
      environment: { MESSAGING_API_URL: "https://api.example.com/v1", SENDER_NAME: "Acme" },
      maxConcurrency: 5,
      functions: { consumer: { timeoutSeconds: 45 } },
      alarmActions: ["arn:aws:sns:us-east-1:123456789012:ops"],
    });
    await resolve(pulumi.all([notifier.scheduleArn, notifier.consumer.arn, notifier.eventSourceMapping.id]));
    await recorder.settle();
  });

  it("builds the whole pattern and nothing else: schedule, two functions, three queues, ledger, secret, alarms", () => {
    const types = childrenOf("reminders")
      .filter((r) => r.custom)
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    assert.deepEqual(types, [
      "aws:cloudwatch/logGroup:LogGroup reminders-consumer-logs",
      "aws:cloudwatch/logGroup:LogGroup reminders-producer-logs",
      "aws:cloudwatch/metricAlarm:MetricAlarm reminders-dead-letters-alarm",
      "aws:cloudwatch/metricAlarm:MetricAlarm reminders-failed-runs-alarm",
      "aws:iam/role:Role reminders-consumer-role",
      "aws:iam/role:Role reminders-producer-role",
      "aws:iam/role:Role reminders-scheduler-role",
      "aws:iam/rolePolicy:RolePolicy reminders-consumer-policy",
      "aws:iam/rolePolicy:RolePolicy reminders-producer-policy",
      "aws:iam/rolePolicy:RolePolicy reminders-scheduler-policy",
      "aws:lambda/eventSourceMapping:EventSourceMapping reminders-jobs-mapping",
      "aws:lambda/function:Function reminders-consumer-function",
      "aws:lambda/function:Function reminders-producer-function",
      "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig reminders-producer-async",
      "aws:s3/bucket:Bucket reminders-ledger",
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration reminders-ledger-expiry",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls reminders-ledger-ownership",
      "aws:s3/bucketPolicy:BucketPolicy reminders-ledger-policy",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock reminders-ledger-public-access",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration reminders-ledger-encryption",
      "aws:scheduler/schedule:Schedule reminders-schedule",
      "aws:secretsmanager/secret:Secret reminders-api-token",
      "aws:secretsmanager/secretVersion:SecretVersion reminders-api-token-value",
      "aws:sqs/queue:Queue reminders-dead-letters",
      "aws:sqs/queue:Queue reminders-failed-runs",
      "aws:sqs/queue:Queue reminders-jobs",
      "aws:sqs/queuePolicy:QueuePolicy reminders-dead-letters-policy",
      "aws:sqs/queuePolicy:QueuePolicy reminders-failed-runs-policy",
      "aws:sqs/queuePolicy:QueuePolicy reminders-jobs-policy",
      "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy reminders-dead-letters-redrive-allow",
    ]);
  });

  it("parents every child to the component", () => {
    const orphans = childrenOf("reminders").filter((r) => r.parent === undefined);
    assert.deepEqual(
      orphans.map((r) => r.name),
      [],
    );
    assert.equal(recorder.named("queue-patterns:aws:ScheduledNotifier", "reminders").custom, false);
  });

  it("schedules the producer with the expression and time zone, no flexible window, and the run context as input", () => {
    const { inputs } = recorder.named("aws:scheduler/schedule:Schedule", "reminders-schedule");
    assert.equal(inputs.scheduleExpression, "cron(0 9 ? * MON-FRI *)");
    assert.equal(inputs.scheduleExpressionTimezone, "Europe/Berlin");
    assert.deepEqual(inputs.flexibleTimeWindow, { mode: "OFF" });
    assert.equal(inputs.state, "ENABLED");
    assert.equal(inputs.target.arn, arnOf(FUNCTION, "reminders-producer-function"));
    assert.equal(inputs.target.roleArn, arnOf("aws:iam/role:Role", "reminders-scheduler-role"));
    assert.deepEqual(JSON.parse(inputs.target.input), {
      scheduledTime: "<aws.scheduler.scheduled-time>",
      scheduleArn: "<aws.scheduler.schedule-arn>",
      executionId: "<aws.scheduler.execution-id>",
      attemptNumber: "<aws.scheduler.attempt-number>",
    });
  });

  it("retries the schedule's invocation for an hour by default and dead-letters it into the failed-runs queue", () => {
    const { target } = recorder.named("aws:scheduler/schedule:Schedule", "reminders-schedule").inputs;
    assert.deepEqual(target.retryPolicy, { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 3600 });
    assert.deepEqual(target.deadLetterConfig, { arn: arnOf(QUEUE, "reminders-failed-runs") });
  });

  it("lets only this account's schedules assume the scheduler role", () => {
    const policy = JSON.parse(recorder.named("aws:iam/role:Role", "reminders-scheduler-role").inputs.assumeRolePolicy);
    assert.deepEqual(policy.Statement, [
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT } },
      },
    ]);
  });

  it("lets the scheduler invoke exactly the producer and write exactly to the failed-runs queue", () => {
    const policy = JSON.parse(recorder.named(ROLE_POLICY, "reminders-scheduler-policy").inputs.policy);
    assert.deepEqual(policy.Statement, [
      {
        Sid: "InvokeProducer",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: [arnOf(FUNCTION, "reminders-producer-function")],
      },
      {
        Sid: "ReportFailedRuns",
        Effect: "Allow",
        Action: ["sqs:SendMessage"],
        Resource: [arnOf(QUEUE, "reminders-failed-runs")],
      },
    ]);
  });

  it("lets the producer send only to the jobs, dead-letter and failed-runs queues", () => {
    assert.deepEqual(ownStatements("reminders-producer"), [
      { Sid: "SendJobs", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arnOf(QUEUE, "reminders-jobs")] },
      {
        Sid: "DeadLetterRejectedRecipients",
        Effect: "Allow",
        Action: ["sqs:SendMessage"],
        Resource: [arnOf(QUEUE, "reminders-dead-letters")],
      },
      {
        Sid: "ReportFailedRuns",
        Effect: "Allow",
        Action: ["sqs:SendMessage"],
        Resource: [arnOf(QUEUE, "reminders-failed-runs")],
      },
    ]);
  });

  it("lets the consumer consume the jobs queue, dead-letter, use the ledger's records, list its bucket and read exactly the token's secret", () => {
    assert.deepEqual(ownStatements("reminders-consumer"), [
      {
        Sid: "ConsumeJobs",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
        Resource: [arnOf(QUEUE, "reminders-jobs")],
      },
      {
        Sid: "DeadLetterJobs",
        Effect: "Allow",
        Action: ["sqs:SendMessage"],
        Resource: [arnOf(QUEUE, "reminders-dead-letters")],
      },
      {
        Sid: "UseDeliveryLedger",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject"],
        Resource: [`${arnOf("aws:s3/bucket:Bucket", "reminders-ledger")}/ledger/*`],
      },
      {
        Sid: "TellMissingLedgerRecords",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [arnOf("aws:s3/bucket:Bucket", "reminders-ledger")],
      },
      {
        Sid: "ReadApiToken",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [arnOf("aws:secretsmanager/secret:Secret", "reminders-api-token")],
      },
    ]);
  });

  it("grants no wildcard resource to any function beyond X-Ray's, which has no resource-level permissions", () => {
    for (const fn of ["reminders-producer", "reminders-consumer"]) {
      const policy = JSON.parse(recorder.named(ROLE_POLICY, `${fn}-policy`).inputs.policy);
      const wildcards = policy.Statement.filter((s: any) => s.Resource.includes("*"));
      assert.deepEqual(
        wildcards.map((s: any) => s.Sid),
        ["WriteTraces"],
      );
    }
  });

  it("stores the token in Secrets Manager and gives the functions its ARN, never the token", async () => {
    const version = recorder.named("aws:secretsmanager/secretVersion:SecretVersion", "reminders-api-token-value");
    assert.equal(version.inputs.secretId, recorder.named("aws:secretsmanager/secret:Secret", "reminders-api-token").id);
    assert.deepEqual(version.inputs.secretString, secretValue(TOKEN));
    for (const fn of ["reminders-producer-function", "reminders-consumer-function"]) {
      const variables = recorder.named(FUNCTION, fn).inputs.environment.variables;
      assert.ok(!JSON.stringify(variables).includes(TOKEN), `${fn} has the token in its environment`);
    }
    assert.equal(await resolve(notifier.secretArn), arnOf("aws:secretsmanager/secret:Secret", "reminders-api-token"));
  });

  it("gives both functions the environment and the queue URLs, and only the consumer the secret ARN and ledger bucket", () => {
    const producer = recorder.named(FUNCTION, "reminders-producer-function").inputs.environment.variables;
    const consumer = recorder.named(FUNCTION, "reminders-consumer-function").inputs.environment.variables;
    const shared = {
      MESSAGING_API_URL: "https://api.example.com/v1",
      SENDER_NAME: "Acme",
      NOTIFIER_JOBS_QUEUE_URL: urlOf("reminders-jobs"),
      NOTIFIER_DEAD_LETTER_QUEUE_URL: urlOf("reminders-dead-letters"),
    };
    assert.deepEqual(producer, shared);
    assert.deepEqual(consumer, {
      ...shared,
      NOTIFIER_SECRET_ARN: arnOf("aws:secretsmanager/secret:Secret", "reminders-api-token"),
      NOTIFIER_LEDGER_BUCKET: recorder.named("aws:s3/bucket:Bucket", "reminders-ledger").id,
    });
  });

  it("gives the producer five minutes and the consumer its own timeout", () => {
    assert.equal(recorder.named(FUNCTION, "reminders-producer-function").inputs.timeout, 300);
    assert.equal(recorder.named(FUNCTION, "reminders-consumer-function").inputs.timeout, 45);
  });

  it("encrypts the jobs queue, hides a job six times the consumer's timeout, and redrives to the dead-letter queue after 10 receives", () => {
    const { inputs } = recorder.named(QUEUE, "reminders-jobs");
    assert.equal(inputs.sqsManagedSseEnabled, true);
    assert.equal(inputs.visibilityTimeoutSeconds, 270);
    assert.equal(inputs.messageRetentionSeconds, 4 * 86_400);
    assert.deepEqual(JSON.parse(inputs.redrivePolicy), {
      deadLetterTargetArn: arnOf(QUEUE, "reminders-dead-letters"),
      maxReceiveCount: 10,
    });
  });

  it("encrypts the dead-letter and failed-runs queues and keeps their messages 14 days", () => {
    for (const name of ["reminders-dead-letters", "reminders-failed-runs"]) {
      const { inputs } = recorder.named(QUEUE, name);
      assert.equal(inputs.sqsManagedSseEnabled, true);
      assert.equal(inputs.messageRetentionSeconds, 14 * 86_400);
    }
  });

  it("lets only the jobs queue redrive into the dead-letter queue", () => {
    const { inputs } = recorder.named(
      "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
      "reminders-dead-letters-redrive-allow",
    );
    assert.equal(inputs.queueUrl, urlOf("reminders-dead-letters"));
    assert.deepEqual(JSON.parse(inputs.redriveAllowPolicy), {
      redrivePermission: "byQueue",
      sourceQueueArns: [arnOf(QUEUE, "reminders-jobs")],
    });
  });

  it("denies every request to each queue that is not over TLS", () => {
    for (const name of ["reminders-jobs", "reminders-dead-letters", "reminders-failed-runs"]) {
      const { inputs } = recorder.named("aws:sqs/queuePolicy:QueuePolicy", `${name}-policy`);
      assert.equal(inputs.queueUrl, urlOf(name));
      assert.deepEqual(JSON.parse(inputs.policy).Statement, [
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "sqs:*",
          Resource: arnOf(QUEUE, name),
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]);
    }
  });

  it("feeds the consumer from the jobs queue with maxConcurrency as the rate limiter and partial batch responses", () => {
    const { inputs } = recorder.named("aws:lambda/eventSourceMapping:EventSourceMapping", "reminders-jobs-mapping");
    assert.equal(inputs.eventSourceArn, arnOf(QUEUE, "reminders-jobs"));
    assert.equal(inputs.functionName, arnOf(FUNCTION, "reminders-consumer-function"));
    assert.equal(inputs.batchSize, 10);
    assert.deepEqual(inputs.scalingConfig, { maximumConcurrency: 5 });
    assert.deepEqual(inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
  });

  it("retries a failed run twice within an hour, then reports it to the failed-runs queue", () => {
    const { inputs } = recorder.named(
      "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
      "reminders-producer-async",
    );
    assert.equal(inputs.functionName, recorder.named(FUNCTION, "reminders-producer-function").state.name);
    assert.equal(inputs.maximumRetryAttempts, 2);
    assert.equal(inputs.maximumEventAgeInSeconds, 3600);
    assert.deepEqual(inputs.destinationConfig, { onFailure: { destination: arnOf(QUEUE, "reminders-failed-runs") } });
  });

  it("keeps the ledger private, encrypted, TLS-only, and expires its records after 14 days", () => {
    const bucketId = recorder.named("aws:s3/bucket:Bucket", "reminders-ledger").id;
    const publicAccess = recorder.named(
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "reminders-ledger-public-access",
    ).inputs;
    assert.deepEqual(publicAccess, {
      bucket: bucketId,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    assert.deepEqual(
      recorder.named("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "reminders-ledger-ownership").inputs
        .rule,
      { objectOwnership: "BucketOwnerEnforced" },
    );
    assert.deepEqual(
      recorder.named(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "reminders-ledger-encryption",
      ).inputs.rules,
      [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    );
    assert.deepEqual(
      recorder.named("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "reminders-ledger-expiry")
        .inputs.rules,
      [{ id: "expire-ledger-records", status: "Enabled", filter: { prefix: "ledger/" }, expiration: { days: 14 } }],
    );
    const bucketArn = arnOf("aws:s3/bucket:Bucket", "reminders-ledger");
    assert.deepEqual(
      JSON.parse(recorder.named("aws:s3/bucketPolicy:BucketPolicy", "reminders-ledger-policy").inputs.policy).Statement,
      [
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: [bucketArn, `${bucketArn}/*`],
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ],
    );
  });

  it("alarms as soon as a message is in the dead-letter or failed-runs queue, notifying the given actions", () => {
    for (const name of ["reminders-dead-letters", "reminders-failed-runs"]) {
      const { inputs } = recorder.named("aws:cloudwatch/metricAlarm:MetricAlarm", `${name}-alarm`);
      assert.equal(inputs.namespace, "AWS/SQS");
      assert.equal(inputs.metricName, "ApproximateNumberOfMessagesVisible");
      assert.deepEqual(inputs.dimensions, { QueueName: recorder.named(QUEUE, name).state.name });
      assert.equal(inputs.comparisonOperator, "GreaterThanThreshold");
      assert.equal(inputs.threshold, 0);
      assert.equal(inputs.treatMissingData, "notBreaching");
      assert.deepEqual(inputs.alarmActions, ["arn:aws:sns:us-east-1:123456789012:ops"]);
    }
  });

  it("exposes the schedule, queue URLs, secret ARN, ledger bucket and function names as outputs", async () => {
    assert.equal(await resolve(notifier.scheduleArn), arnOf("aws:scheduler/schedule:Schedule", "reminders-schedule"));
    assert.equal(await resolve(notifier.jobsQueueUrl), urlOf("reminders-jobs"));
    assert.equal(await resolve(notifier.deadLetterQueueUrl), urlOf("reminders-dead-letters"));
    assert.equal(await resolve(notifier.failedRunsQueueUrl), urlOf("reminders-failed-runs"));
    assert.equal(
      await resolve(notifier.ledgerBucketName),
      recorder.named("aws:s3/bucket:Bucket", "reminders-ledger").id,
    );
    const lambda = "aws:lambda/function:Function";
    assert.equal(
      await resolve(notifier.producerFunctionName),
      recorder.named(lambda, "reminders-producer-function").state.name,
    );
    assert.equal(
      await resolve(notifier.consumerFunctionName),
      recorder.named(lambda, "reminders-consumer-function").state.name,
    );
  });

  it("packages each callback into its own function: recipients into the producer, send into the consumer", async () => {
    const producer = (await resolve(notifier.producer.artifact)).files["index.js"];
    const consumer = (await resolve(notifier.consumer.artifact)).files["index.js"];
    assert.match(producer, /createProducer/);
    assert.doesNotMatch(producer, /createConsumer/);
    assert.match(consumer, /createConsumer/);
    assert.match(consumer, /maxReceiveCount:10,secretCacheSeconds:300/);
  });
});

describe("ScheduledNotifier with an existing secret and a customer managed key", () => {
  const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token-AbCdEf";
  const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  before(async () => {
    const notifier = new ScheduledNotifier("existing", {
      ...baseArgs,
      apiToken: { existing: SECRET, kmsKeyArn: KEY },
      scheduleEnabled: false,
    });
    await resolve(pulumi.all([notifier.scheduleArn, notifier.consumer.arn, notifier.eventSourceMapping.id]));
    await recorder.settle();
  });

  it("creates no secret and points the consumer at the existing one", () => {
    assert.equal(
      recorder.ofType("aws:secretsmanager/secret:Secret").filter((r) => r.name.startsWith("existing-")).length,
      0,
    );
    const variables = recorder.named(FUNCTION, "existing-consumer-function").inputs.environment.variables;
    assert.equal(variables.NOTIFIER_SECRET_ARN, SECRET);
  });

  it("lets the consumer read exactly that secret and decrypt with the key only through Secrets Manager", () => {
    const statements = ownStatements("existing-consumer");
    assert.deepEqual(
      statements.find((s) => s.Sid === "ReadApiToken"),
      { Sid: "ReadApiToken", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [SECRET] },
    );
    assert.deepEqual(
      statements.find((s) => s.Sid === "DecryptApiToken"),
      {
        Sid: "DecryptApiToken",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [KEY],
        Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } },
      },
    );
  });

  it("grants no key access when the secret uses the AWS managed key", () => {
    assert.equal(
      ownStatements("reminders-consumer").some((s) => s.Sid === "DecryptApiToken"),
      false,
    );
  });

  it("creates the schedule disabled when scheduleEnabled is false", () => {
    assert.equal(recorder.named("aws:scheduler/schedule:Schedule", "existing-schedule").inputs.state, "DISABLED");
  });
});

describe("ScheduledNotifier with an existing secret named by a partial ARN", () => {
  const PARTIAL = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token";
  before(async () => {
    const notifier = new ScheduledNotifier("partial", { ...baseArgs, apiToken: { existing: PARTIAL } });
    await resolve(pulumi.all([notifier.consumer.arn, notifier.eventSourceMapping.id]));
    await recorder.settle();
  });

  const consumerPolicy = () => JSON.parse(recorder.named(ROLE_POLICY, "partial-consumer-policy").inputs.policy);
  const readToken = (secretArn: string) =>
    decide(
      { identity: [consumerPolicy()] },
      {
        principal: arnOf("aws:iam/role:Role", "partial-consumer-role"),
        action: "secretsmanager:GetSecretValue",
        resource: secretArn,
      },
    );

  it("lets the consumer read the secret's complete ARN, the name and six characters IAM authorizes (Secrets Manager reference_iam-permissions)", async () => {
    assert.equal(await readToken(`${PARTIAL}-AbCdEf`), "Allowed");
  });

  it("grants the documented name-?????? pattern, so no other secret whose name starts the same", async () => {
    assert.deepEqual(ownStatements("partial-consumer").find((s) => s.Sid === "ReadApiToken").Resource, [
      `${PARTIAL}-??????`,
    ]);
    assert.equal(await readToken(`${PARTIAL}-old-AbCdEf`), "ImplicitlyDenied");
  });

  it("still gives the function the ARN as given, which Secrets Manager resolves", () => {
    const variables = recorder.named(FUNCTION, "partial-consumer-function").inputs.environment.variables;
    assert.equal(variables.NOTIFIER_SECRET_ARN, PARTIAL);
  });
});

describe("ScheduledNotifier with permissions for its callbacks", () => {
  const TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/recipients";
  const TOPIC = "arn:aws:sns:us-east-1:123456789012:sent";
  before(async () => {
    const notifier = new ScheduledNotifier("permitted", {
      ...baseArgs,
      functions: {
        producer: { permissions: [{ actions: ["dynamodb:Query"], resources: [TABLE] }] },
        consumer: { permissions: [{ actions: ["sns:Publish"], resources: [pulumi.output(TOPIC)] }] },
      },
    });
    await resolve(pulumi.all([notifier.producer.arn, notifier.consumer.arn, notifier.eventSourceMapping.id]));
    await recorder.settle();
  });

  const allowed = (fn: string, action: string, resource: string) =>
    decide(
      { identity: [JSON.parse(recorder.named(ROLE_POLICY, `permitted-${fn}-policy`).inputs.policy)] },
      { principal: arnOf("aws:iam/role:Role", `permitted-${fn}-role`), action, resource },
    );

  it("adds the producer's permissions to the producer's role: recipients may query the user's table", async () => {
    assert.deepEqual(
      ownStatements("permitted-producer").find((s) => s.Sid === "CallbackPermission0"),
      { Sid: "CallbackPermission0", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [TABLE] },
    );
    assert.equal(await allowed("producer", "dynamodb:Query", TABLE), "Allowed");
    assert.equal(await allowed("consumer", "dynamodb:Query", TABLE), "ImplicitlyDenied");
  });

  it("adds the consumer's permissions to the consumer's role: send may publish to the user's topic", async () => {
    assert.deepEqual(
      ownStatements("permitted-consumer").find((s) => s.Sid === "CallbackPermission0"),
      { Sid: "CallbackPermission0", Effect: "Allow", Action: ["sns:Publish"], Resource: [TOPIC] },
    );
    assert.equal(await allowed("consumer", "sns:Publish", TOPIC), "Allowed");
    assert.equal(await allowed("producer", "sns:Publish", TOPIC), "ImplicitlyDenied");
  });
});

describe("ScheduledNotifier given the token as a plain string", () => {
  it("still stores it as a Pulumi secret, so it never shows in the state or the preview", async () => {
    const notifier = new ScheduledNotifier("plain", { ...baseArgs, apiToken: { value: "plain-t0ken" } });
    await resolve(pulumi.all([notifier.secretArn, notifier.consumer.arn]));
    await recorder.settle();
    const version = recorder.named("aws:secretsmanager/secretVersion:SecretVersion", "plain-api-token-value");
    assert.deepEqual(version.inputs.secretString, secretValue("plain-t0ken"));
  });
});

describe("ScheduledNotifier escape hatches", () => {
  it("passes the jobs queue's args through its transform", async () => {
    const notifier = new ScheduledNotifier("tagged", {
      ...baseArgs,
      transform: { jobsQueue: (args) => ({ ...args, tags: { team: "growth" } }) },
    });
    await resolve(pulumi.all([notifier.jobsQueueUrl, notifier.consumer.arn]));
    await recorder.settle();
    const { inputs } = recorder.named(QUEUE, "tagged-jobs");
    assert.deepEqual(inputs.tags, { team: "growth" });
    assert.equal(inputs.sqsManagedSseEnabled, true);
  });

  it("passes each function's args through its own transform, and each function's settings to it", async () => {
    const notifier = new ScheduledNotifier("tuned", {
      ...baseArgs,
      functions: { producer: { architecture: "x86_64", reservedConcurrency: 1 }, consumer: { memorySizeMb: 512 } },
      transform: {
        producer: { function: (args) => ({ ...args, tags: { role: "producer" } }) },
        consumer: { function: (args) => ({ ...args, tags: { role: "consumer" } }) },
      },
    });
    await resolve(pulumi.all([notifier.producer.arn, notifier.consumer.arn]));
    await recorder.settle();
    const producer = recorder.named(FUNCTION, "tuned-producer-function").inputs;
    const consumer = recorder.named(FUNCTION, "tuned-consumer-function").inputs;
    assert.deepEqual([producer.tags, consumer.tags], [{ role: "producer" }, { role: "consumer" }]);
    assert.deepEqual(producer.architectures, ["x86_64"]);
    assert.equal(producer.reservedConcurrentExecutions, 1);
    assert.equal(consumer.memorySize, 512);
  });
});

describe("ScheduledNotifier given its environment as an Output", () => {
  it("gives both functions the resolved variables beside its own", async () => {
    const notifier = new ScheduledNotifier("computed", {
      ...baseArgs,
      environment: pulumi.output({ MESSAGING_API_URL: pulumi.output("https://api.example.com/v2") }),
    });
    await resolve(pulumi.all([notifier.producer.arn, notifier.consumer.arn]));
    await recorder.settle();
    for (const fn of ["computed-producer-function", "computed-consumer-function"]) {
      const variables = recorder.named(FUNCTION, fn).inputs.environment.variables;
      assert.equal(variables.MESSAGING_API_URL, "https://api.example.com/v2", fn);
      assert.equal(variables.NOTIFIER_JOBS_QUEUE_URL, urlOf("computed-jobs"), fn);
    }
  });
});

describe("ScheduledNotifier argument validation", () => {
  /** The error message for `args` merged over valid ones. */
  function problems(args: Partial<ScheduledNotifierArgs>): string {
    try {
      validateScheduledNotifierArgs("daily", { ...baseArgs, ...args } as ScheduledNotifierArgs).throwIfAny();
    } catch (error) {
      assert.ok(error instanceof InvalidArgumentsError);
      return error.message;
    }
    return "(no problem)";
  }

  const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf";
  const TOPIC = "arn:aws:sns:us-east-1:123456789012:sent";

  it("accepts a valid cron expression", () => {
    assert.equal(problems({ schedule: "cron(0/15 8-17 ? * MON-FRI *)" }), "(no problem)");
  });

  it("accepts an existing secret with its KMS key", () => {
    assert.equal(
      problems({ apiToken: { existing: SECRET, kmsKeyArn: "arn:aws:kms:us-east-1:1:key/k" } }),
      "(no problem)",
    );
  });

  it("accepts environment names that start AWS_ but are not among the keys Lambda reserves", () => {
    assert.equal(
      problems({ environment: { AWS_ENDPOINT_URL_S3: "https://s3.example.com", AWS_LAMBDA_EXEC_WRAPPER: "/opt/w" } }),
      "(no problem)",
    );
  });

  /** Each row: what is wrong, the argument the message names, the args that are, and the message (exact, or a pattern). */
  const rejected: { what: string; argument: string; args: Partial<ScheduledNotifierArgs>; message: string | RegExp }[] =
    [
      {
        what: "a cron expression with five fields, as Unix cron has",
        argument: "schedule",
        args: { schedule: "cron(0 9 * * *)" },
        message:
          'ScheduledNotifier "daily": schedule "cron(0 9 * * *)" is not a valid EventBridge Scheduler expression: ' +
          "a cron has 6 fields (minutes hours day-of-month month day-of-week year), got 5; " +
          'e.g. "cron(0 9 ? * MON-FRI *)" is 09:00 on weekdays.',
      },
      {
        what: "a cron expression that gives both day-of-month and day-of-week",
        argument: "schedule",
        args: { schedule: "cron(0 9 * * * *)" },
        message:
          'ScheduledNotifier "daily": schedule "cron(0 9 * * * *)" is not a valid EventBridge Scheduler expression: ' +
          'exactly one of day-of-month and day-of-week must be "?", e.g. "cron(0 9 * * ? *)" for every day.',
      },
      {
        what: "a cron field out of range",
        argument: "schedule",
        args: { schedule: "cron(61 9 * * ? *)" },
        message:
          'ScheduledNotifier "daily": schedule "cron(61 9 * * ? *)" is not a valid EventBridge Scheduler expression: ' +
          'minutes "61" has 61, outside 0..59.',
      },
      {
        what: "a misspelled month name",
        argument: "schedule",
        args: { schedule: "cron(0 9 1 JNU ? *)" },
        message:
          'ScheduledNotifier "daily": schedule "cron(0 9 1 JNU ? *)" is not a valid EventBridge Scheduler expression: ' +
          'month "JNU" has JNU, outside 1..12 or JAN..DEC.',
      },
      {
        what: "a rate with a unit Scheduler does not know",
        argument: "schedule",
        args: { schedule: "rate(1 week)" },
        message:
          'ScheduledNotifier "daily": schedule "rate(1 week)" is not a valid EventBridge Scheduler expression: ' +
          'a rate is "rate(<positive whole number> <minute(s)|hour(s)|day(s)>)", e.g. "rate(6 hours)".',
      },
      {
        what: "a rate of zero",
        argument: "schedule",
        args: { schedule: "rate(0 minutes)" },
        message: /schedule "rate\(0 minutes\)" is not a valid .*positive whole number/,
      },
      {
        what: "a one-time at() expression: a notifier recurs",
        argument: "schedule",
        args: { schedule: "at(2025-03-25T09:00:00)" },
        message:
          'ScheduledNotifier "daily": schedule "at(2025-03-25T09:00:00)" is not a valid EventBridge Scheduler expression: ' +
          'use "cron(<6 fields>)" or "rate(<value> <unit>)".',
      },
      {
        what: "a time zone that is not an IANA name",
        argument: "timeZone",
        args: { timeZone: "Europe/Paaris" },
        message:
          'ScheduledNotifier "daily": timeZone "Europe/Paaris" is not an IANA time zone name; ' +
          'use one such as "UTC", "Europe/Berlin" or "America/New_York".',
      },
      {
        what: "a UTC offset in place of a time zone name",
        argument: "timeZone",
        args: { timeZone: "+01:00" },
        message: /timeZone "\+01:00" is not an IANA time zone name/,
      },
      {
        what: "an alarm action that is not an ARN",
        argument: "alarmActions[0]",
        args: { alarmActions: ["on-call"] },
        message:
          'ScheduledNotifier "daily": alarmActions[0] "on-call" is not an ARN; ' +
          'CloudWatch alarm actions are ARNs, e.g. an SNS topic\'s "arn:aws:sns:us-east-1:123456789012:on-call".',
      },
      {
        what: "a maxConcurrency below Lambda's minimum of 2",
        argument: "maxConcurrency",
        args: { maxConcurrency: 1 },
        message:
          'ScheduledNotifier "daily": maxConcurrency 1 is out of range; Lambda\'s SQS maximum concurrency allows 2..1000.',
      },
      {
        what: "a maxConcurrency above 1000",
        argument: "maxConcurrency",
        args: { maxConcurrency: 1001 },
        message: /maxConcurrency 1001 is out of range; .*2\.\.1000\./,
      },
      {
        what: "reserved concurrency below maxConcurrency",
        argument: "functions.consumer.reservedConcurrency",
        args: { maxConcurrency: 10, functions: { consumer: { reservedConcurrency: 5 } } },
        message:
          'ScheduledNotifier "daily": functions.consumer.reservedConcurrency 5 is below maxConcurrency 10; ' +
          "Lambda would throttle the event source and jobs could be dead-lettered. Reserve at least maxConcurrency, or leave it unset.",
      },
      {
        what: "a consumer timeout beyond Lambda's 900 s",
        argument: "functions.consumer.timeoutSeconds",
        args: { functions: { consumer: { timeoutSeconds: 901 } } },
        message:
          'ScheduledNotifier "daily": functions.consumer.timeoutSeconds 901 is out of range; Lambda allows 1..900.',
      },
      {
        what: "a producer timeout of zero",
        argument: "functions.producer.timeoutSeconds",
        args: { functions: { producer: { timeoutSeconds: 0 } } },
        message:
          'ScheduledNotifier "daily": functions.producer.timeoutSeconds 0 is out of range; Lambda allows 1..900.',
      },
      {
        what: "a permission without actions, naming the function it was given to",
        argument: "functions.consumer.permissions[0].actions",
        args: { functions: { consumer: { permissions: [{ actions: [], resources: [TOPIC] }] } } },
        message: /functions\.consumer\.permissions\[0\]\.actions \[\] must list IAM actions as "service:Action"/,
      },
      {
        what: "a batch size above ten",
        argument: "batchSize",
        args: { batchSize: 11 },
        message:
          'ScheduledNotifier "daily": batchSize 11 is out of range; the notifier sends a batch\'s jobs one by one and allows 1..10.',
      },
      {
        what: "a maxDeliveryCount of zero",
        argument: "maxDeliveryCount",
        args: { maxDeliveryCount: 0 },
        message: 'ScheduledNotifier "daily": maxDeliveryCount 0 is out of range; an SQS redrive policy allows 1..1000.',
      },
      {
        what: "a message retention below SQS's minute",
        argument: "messageRetentionSeconds",
        args: { messageRetentionSeconds: 59 },
        message: 'ScheduledNotifier "daily": messageRetentionSeconds 59 is out of range; SQS allows 60..1209600.',
      },
      {
        what: "more schedule retries than Scheduler allows",
        argument: "scheduleRetry.maximumRetryAttempts",
        args: { scheduleRetry: { maximumRetryAttempts: 186 } },
        message:
          'ScheduledNotifier "daily": scheduleRetry.maximumRetryAttempts 186 is out of range; EventBridge Scheduler allows 0..185.',
      },
      {
        what: "a schedule event age below Scheduler's minute",
        argument: "scheduleRetry.maximumEventAgeSeconds",
        args: { scheduleRetry: { maximumEventAgeSeconds: 59 } },
        message:
          'ScheduledNotifier "daily": scheduleRetry.maximumEventAgeSeconds 59 is out of range; EventBridge Scheduler allows 60..86400.',
      },
      {
        what: "more run retries than Lambda's asynchronous invocation allows",
        argument: "runRetry.maximumRetryAttempts",
        args: { runRetry: { maximumRetryAttempts: 3 } },
        message:
          'ScheduledNotifier "daily": runRetry.maximumRetryAttempts 3 is out of range; Lambda asynchronous invocation allows 0..2.',
      },
      {
        what: "a run event age beyond Lambda's six hours",
        argument: "runRetry.maximumEventAgeSeconds",
        args: { runRetry: { maximumEventAgeSeconds: 21_601 } },
        message:
          'ScheduledNotifier "daily": runRetry.maximumEventAgeSeconds 21601 is out of range; Lambda asynchronous invocation allows 60..21600.',
      },
      {
        what: "a ledger that forgets sends before their jobs can stop arriving",
        argument: "ledgerRetentionDays",
        args: { messageRetentionSeconds: 7 * 86_400, ledgerRetentionDays: 8 },
        message:
          'ScheduledNotifier "daily": ledgerRetentionDays 8 is too short: the ledger must outlive every job that can still arrive ' +
          "(messageRetentionSeconds 604800, plus up to a day of run retries and a day of margin); use at least 9.",
      },
      {
        what: "a ledger as long as a retention that is a day and a second, counted as two days",
        argument: "ledgerRetentionDays",
        args: { messageRetentionSeconds: 86_401, ledgerRetentionDays: 3 },
        message:
          'ScheduledNotifier "daily": ledgerRetentionDays 3 is too short: the ledger must outlive every job that can still arrive ' +
          "(messageRetentionSeconds 86401, plus up to a day of run retries and a day of margin); use at least 4.",
      },
      {
        what: "a notifier without a token or a secret",
        argument: "apiToken.value",
        args: { apiToken: undefined },
        message:
          'ScheduledNotifier "daily": apiToken.value (missing) is required unless apiToken.existing names an existing secret; ' +
          "pass it as a Pulumi secret (config.requireSecret).",
      },
      {
        what: "both a token and an existing secret",
        argument: "apiToken.existing",
        args: { apiToken: { value: TOKEN, existing: SECRET } as never },
        message:
          `ScheduledNotifier "daily": apiToken.existing "${SECRET}" ` +
          "cannot be combined with apiToken.value; give one of them.",
      },
      {
        what: "a setting for a created secret beside an existing one",
        argument: "apiToken.description",
        args: { apiToken: { existing: SECRET, description: "ours" } as never },
        message:
          'ScheduledNotifier "daily": apiToken.description "ours" applies only to a secret the component creates; ' +
          "set it on the existing secret, or omit apiToken.existing.",
      },
      {
        what: "a secret ARN that is not one",
        argument: "apiToken.existing",
        args: { apiToken: { existing: "messaging-token" } },
        message:
          'ScheduledNotifier "daily": apiToken.existing "messaging-token" is not a Secrets Manager secret ARN ' +
          '("arn:aws:secretsmanager:<region>:<account>:secret:<name>").',
      },
      {
        what: "an environment variable Lambda reserves",
        argument: "environment.AWS_REGION",
        args: { environment: { AWS_REGION: "eu-west-1" } },
        message:
          'ScheduledNotifier "daily": environment.AWS_REGION "eu-west-1" is a key Lambda sets itself and refuses in a ' +
          "function's configuration; choose another name (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).",
      },
      {
        what: "an environment variable named with the notifier's own prefix",
        argument: "environment.NOTIFIER_JOBS_QUEUE_URL",
        args: { environment: { NOTIFIER_JOBS_QUEUE_URL: "x" } },
        message: /uses the reserved prefix NOTIFIER_;/,
      },
      {
        what: "an environment variable whose name is not an environment variable name",
        argument: "environment.api-url",
        args: { environment: { "api-url": "https://x" } },
        message:
          'ScheduledNotifier "daily": environment.api-url "https://x" has a name that is not an environment variable name; ' +
          "use at least two letters, digits and _, starting with a letter.",
      },
      {
        what: "an environment variable name of one character, which Lambda's API refuses",
        argument: "environment.X",
        args: { environment: { X: "1" } },
        message: /environment\.X "1" has a name that is not an environment variable name;/,
      },
      {
        what: "an environment variable that is not a string",
        argument: "environment.RETRIES",
        args: { environment: { RETRIES: 3 } as never },
        message:
          'ScheduledNotifier "daily": environment.RETRIES 3 must be a plain string; secrets go in apiToken, never in environment.',
      },
      {
        what: "an environment too large for Lambda's 4 KB",
        argument: "environment",
        args: { environment: { BIG: "x".repeat(4000) } },
        message:
          'ScheduledNotifier "daily": environment 4003 bytes in total exceed 3072: Lambda allows 4 KB of environment and the ' +
          "notifier needs about 1 KB; put large values in the secret or fetch them at run time.",
      },
      {
        what: "a missing send callback",
        argument: "send",
        args: { send: undefined },
        message: 'ScheduledNotifier "daily": send (missing) must be an inline async function.',
      },
    ];
  for (const row of rejected) {
    it(`rejects ${row.what} (${row.argument})`, () => {
      const message = problems(row.args);
      assert.ok(message.includes(`"daily": ${row.argument} `), `names ${row.argument}: ${message}`);
      if (typeof row.message === "string") assert.equal(message, row.message);
      else assert.match(message, row.message);
    });
  }

  it("fails the deployment when environment holds a secret, naming the key and where secrets go", async () => {
    let given: pulumi.Input<unknown> = undefined;
    const errors = await deploymentErrors(async () => {
      // The transforms keep the environment the component gives the consumer, and register both functions without it.
      new ScheduledNotifier("leaky", {
        ...baseArgs,
        environment: { API_KEY: pulumi.secret("k3y") },
        transform: {
          producer: { function: (functionArgs) => ({ ...functionArgs, environment: undefined }) },
          consumer: {
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
    for (const error of errors) {
      assert.match(
        error,
        /ScheduledNotifier "leaky": environment\.API_KEY \(an Output\) is a secret; environment variables are plain text in the functions' configuration\. Pass the API token as apiToken; store any other secret in Secrets Manager, grant secretsmanager:GetSecretValue on it with functions\.<producer\|consumer>\.permissions and read it at run time\.$/,
      );
    }
  });

  // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html: provisioned mode or maximum concurrency, not both.
  it("rejects provisioned mode set through transform.eventSourceMapping beside its maximum concurrency", () => {
    assert.throws(
      () =>
        new ScheduledNotifier("provisioned", {
          ...baseArgs,
          maxConcurrency: 4,
          transform: {
            eventSourceMapping: (mapping) => ({ ...mapping, provisionedPollerConfig: { minimumPollers: 1 } }),
          },
        }),
      {
        name: "InvalidArgumentsError",
        message:
          'ScheduledNotifier "provisioned": transform.eventSourceMapping.provisionedPollerConfig {"minimumPollers":1} ' +
          "(provisioned mode) cannot be combined with a maximum concurrency (maxConcurrency, scalingConfig.maximumConcurrency 4): Lambda takes one or the other for SQS. In provisioned mode, bound concurrency with provisionedPollerConfig.maximumPollers and set scalingConfig: undefined in the same transform; otherwise remove provisionedPollerConfig.",
      },
    );
  });

  it("accepts provisioned mode when the transform also removes scalingConfig", () => {
    assert.doesNotThrow(
      () =>
        new ScheduledNotifier("provisioned-only", {
          ...baseArgs,
          transform: {
            eventSourceMapping: (mapping) => ({
              ...mapping,
              provisionedPollerConfig: { minimumPollers: 1 },
              scalingConfig: undefined,
            }),
          },
        }),
    );
  });

  it("reports every problem at once", () => {
    assert.deepEqual(
      problems({ schedule: "rate(5 weeks)", timeZone: "Nowhere", maxConcurrency: 0 })
        .split("\n")
        .map((line) => line.split(" ").slice(2, 3)[0]),
      ["schedule", "timeZone", "maxConcurrency"],
    );
  });

  it("fails at construction, before creating anything", () => {
    const before = recorder.resources.length;
    assert.throws(
      () => new ScheduledNotifier("broken", { ...baseArgs, schedule: "daily at 9" }),
      /^InvalidArgumentsError: ScheduledNotifier "broken": schedule "daily at 9" is not a valid EventBridge Scheduler expression/,
    );
    assert.equal(recorder.resources.filter((r, i) => i >= before && r.name.startsWith("broken-")).length, 0);
  });
});
