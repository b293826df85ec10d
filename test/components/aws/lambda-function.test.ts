import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { installMocks, MOCK_ACCOUNT, MOCK_REGION, resolve } from "../../../testing/mocks";

const recorder = installMocks();

import { LambdaFunction, validateLambdaFunctionArgs } from "../../../components/aws/lambda-function";

const FUNCTION = "aws:lambda/function:Function";

describe("LambdaFunction", () => {
  let fn: LambdaFunction;
  before(async () => {
    fn = new LambdaFunction("worker", {
      callbacks: { handler: async () => "done" },
      timeoutSeconds: 20,
      environment: { QUEUE_URL: "https://example/queue" },
      policyStatements: [
        { Sid: "Own", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: ["arn:aws:sqs:us-east-1:1:q"] },
      ],
    });
    await resolve(fn.arn);
    await recorder.settle();
  });

  it("runs on nodejs24.x by default, arm64, with the bundle's handler and JSON logs into its own log group", () => {
    const { inputs } = recorder.named(FUNCTION, "worker-function");
    assert.equal(inputs.runtime, "nodejs24.x");
    assert.deepEqual(inputs.architectures, ["arm64"]);
    assert.equal(inputs.handler, "index.handler");
    assert.equal(inputs.timeout, 20);
    assert.deepEqual(inputs.environment, { variables: { QUEUE_URL: "https://example/queue" } });
    const logGroup = recorder.named("aws:cloudwatch/logGroup:LogGroup", "worker-logs");
    assert.equal(inputs.loggingConfig.logGroup, logGroup.state.name);
    assert.equal(inputs.loggingConfig.logFormat, "JSON");
    assert.deepEqual(inputs.tracingConfig, { mode: "Active" });
  });

  it("keeps logs for 30 days by default", () => {
    assert.equal(recorder.named("aws:cloudwatch/logGroup:LogGroup", "worker-logs").inputs.retentionInDays, 30);
  });

  it("sets the source code hash to the base64 SHA-256 of the archive it ships", async () => {
    const artifact = await resolve(fn.artifact);
    const { inputs } = recorder.named(FUNCTION, "worker-function");
    assert.equal(inputs.sourceCodeHash, Buffer.from(artifact.sha256, "hex").toString("base64"));
  });

  it("has a role only Lambda can assume", () => {
    const policy = recorder.named("aws:iam/role:Role", "worker-role").inputs.assumeRolePolicy;
    assert.deepEqual(
      policy.Statement.map((s: any) => [s.Effect, s.Action, s.Principal]),
      [["Allow", "sts:AssumeRole", { Service: "lambda.amazonaws.com" }]],
    );
  });

  it("may write only to its own log group, send traces, and do what its owner granted", () => {
    const policy = JSON.parse(recorder.named("aws:iam/rolePolicy:RolePolicy", "worker-policy").inputs.policy);
    const logGroupArn = recorder.named("aws:cloudwatch/logGroup:LogGroup", "worker-logs").state.arn;
    assert.deepEqual(policy.Statement, [
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
      { Sid: "Own", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: ["arn:aws:sqs:us-east-1:1:q"] },
    ]);
    assert.equal(logGroupArn.startsWith(`arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:`), true);
  });

  it("parents its children to itself", () => {
    for (const type of [
      FUNCTION,
      "aws:iam/role:Role",
      "aws:cloudwatch/logGroup:LogGroup",
      "aws:iam/rolePolicy:RolePolicy",
    ]) {
      assert.equal(recorder.ofType(type).find((r) => r.name.startsWith("worker-"))?.parent, "worker", type);
    }
  });

  it("lets a transform change the function's args", async () => {
    const tuned = new LambdaFunction("tuned", {
      callbacks: { handler: async () => "ok" },
      transform: { function: (args) => ({ ...args, memorySize: 1024 }) },
    });
    await resolve(tuned.arn);
    await recorder.settle();
    assert.equal(recorder.named(FUNCTION, "tuned-function").inputs.memorySize, 1024);
  });
});

describe("LambdaFunction argument validation", () => {
  const owner = 'LambdaFunction "f"';
  const rejected: { what: string; args: Parameters<typeof validateLambdaFunctionArgs>[1]; message: string | RegExp }[] =
    [
      {
        what: "a timeout over Lambda's 900 seconds",
        args: { timeoutSeconds: 901 },
        message: `${owner}: timeoutSeconds 901 is out of range; Lambda allows 1..900.`,
      },
      {
        what: "memory below 128 MB",
        args: { memorySizeMb: 64 },
        message: `${owner}: memorySizeMb 64 is out of range; Lambda allows 128..10240.`,
      },
      {
        what: "a log retention CloudWatch does not offer",
        args: { logRetentionDays: 10 },
        message:
          /^LambdaFunction "f": logRetentionDays 10 is not a CloudWatch Logs retention; use one of 1, 3, 5, 7, 14, 30/,
      },
      {
        what: "a reserved concurrency of zero, which throttles every invocation",
        args: { reservedConcurrency: 0 },
        message:
          `${owner}: reservedConcurrency 0 would throttle every invocation; leave it unset or reserve at least 1. ` +
          "To pause the function on purpose, set reservedConcurrentExecutions: 0 in its transform.",
      },
      {
        what: "a reserved concurrency above the 900 an account at the default quota can reserve",
        args: { reservedConcurrency: 901 },
        message:
          `${owner}: reservedConcurrency 901 is out of range; Lambda keeps 100 of the account's concurrency unreserved, ` +
          "so at the default quota of 1000 it allows 0..900 (fewer at a lower quota). To reserve more, raise the account's quota " +
          "and set reservedConcurrentExecutions in the function's transform.",
      },
      {
        what: "an architecture Lambda does not run",
        args: { architecture: "arm32" as "arm64" },
        message: `${owner}: architecture "arm32" is not a Lambda architecture; use "arm64" or "x86_64".`,
      },
      {
        what: "an SDK source that is neither bundle nor runtime",
        args: { awsSdk: "layer" as "bundle" },
        message: `${owner}: awsSdk "layer" is not an SDK source; use "bundle" (the default) or "runtime".`,
      },
      {
        what: "a permission whose action is not service:Action",
        args: {
          permissions: [{ actions: ["PutItem"], resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/t"] }],
        },
        message: `${owner}: permissions[0].actions ["PutItem"] must list IAM actions as "service:Action" (wildcards allowed), e.g. ["dynamodb:PutItem"].`,
      },
    ];
  for (const row of rejected) {
    it(`rejects ${row.what}`, () => {
      assert.throws(() => validateLambdaFunctionArgs(owner, row.args).throwIfAny(), { message: row.message });
    });
  }

  it("throws the problems from the constructor, naming the function", () => {
    assert.throws(() => new LambdaFunction("f", { callbacks: { handler: async () => 1 }, timeoutSeconds: 901 }), {
      name: "InvalidArgumentsError",
      message: `${owner}: timeoutSeconds 901 is out of range; Lambda allows 1..900.`,
    });
  });

  it("refuses from the constructor an environment key Lambda reserves", () => {
    assert.throws(
      () =>
        new LambdaFunction("reserved", {
          callbacks: { handler: async () => "ok" },
          environment: { AWS_LAMBDA_FUNCTION_NAME: "other", TZ: "Europe/Berlin" },
        }),
      {
        name: "InvalidArgumentsError",
        message: [
          'LambdaFunction "reserved": environment.AWS_LAMBDA_FUNCTION_NAME "other" is a key Lambda sets itself and refuses in a ' +
            "function's configuration; choose another name (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).",
          'LambdaFunction "reserved": environment.TZ "Europe/Berlin" is a key Lambda sets itself and refuses in a ' +
            "function's configuration; choose another name (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).",
        ].join("\n"),
      },
    );
  });

  it("reports every problem at once", () => {
    assert.deepEqual(
      validateLambdaFunctionArgs(owner, { timeoutSeconds: 0, memorySizeMb: 99999 })
        .list()
        .map((p) => p.argument),
      ["timeoutSeconds", "memorySizeMb"],
    );
  });
});

describe("LambdaFunction with sourceMap", () => {
  it("ships the bundle and its source map beside the index.js that turns Node's source maps on", async () => {
    const mapped = new LambdaFunction("mapped", { callbacks: { handler: async () => "done" }, sourceMap: true });
    const artifact = await resolve(mapped.artifact);
    assert.deepEqual(Object.keys(artifact.files).sort(), ["bundle.js", "bundle.js.map", "index.js"]);
    assert.match(artifact.files["index.js"], /setSourceMapsEnabled\(true\)/);
  });
});
