/**
 * The offline plan's renderer, config reading and command line (cli/plan.ts, cli/index.ts), on
 * plans written here: the tree by parent, type tokens as Pulumi displays them, unknown and computed
 * values, secrets, role grants, disabled components and the summary.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderExercise } from "../../cli/dev";
import { parseArguments, UsageError } from "../../cli/index";
import type { Registration } from "../../cli/language-host";
import { displayType, type PlanResult, renderPlan } from "../../cli/plan";
import { defaultStack, stackConfig } from "../../cli/stack-config";

const STACK_URN = "urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev";

function resource(
  name: string,
  type: string,
  parentUrn: string | undefined,
  fields: Partial<Registration> = {},
): Registration {
  return {
    urn: type === "pulumi:pulumi:Stack" ? STACK_URN : `urn:pulumi:dev::shop::${type}::${name}`,
    type,
    name,
    parentUrn,
    custom: !type.startsWith("shop:") && type !== "pulumi:pulumi:Stack",
    inputs: {},
    secretInputs: [],
    unknownInputs: [],
    answered: { outputs: {} },
    ...fields,
  };
}

const urnOf = (type: string, name: string) => `urn:pulumi:dev::shop::${type}::${name}`;

/** A stack, a component with a topic, a queue and its policy, and a bucket beside the component. */
function plan(overrides: Partial<PlanResult> = {}): PlanResult {
  const component = urnOf("shop:index:Orders", "orders");
  return {
    programDir: "/work/shop",
    project: "shop",
    stack: "dev",
    configFiles: ["/work/shop/Pulumi.yaml", "/work/shop/Pulumi.dev.yaml"],
    resources: [
      resource("shop-dev", "pulumi:pulumi:Stack", undefined),
      resource("orders", "shop:index:Orders", STACK_URN),
      resource("orders-topic", "aws:sns/topic:Topic", component, {
        inputs: { fifoTopic: true },
        answered: {
          id: "arn:aws:sns:us-east-1:123456789012:orders-topic-1a2b3c4",
          outputs: { arn: "arn:aws:sns:us-east-1:123456789012:orders-topic-1a2b3c4" },
        },
      }),
      resource("orders-queue", "aws:sqs/queue:Queue", component, {
        inputs: { fifoQueue: true, visibilityTimeoutSeconds: 180 },
        answered: {
          id: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue-5d6e7f8",
          outputs: { arn: "arn:aws:sqs:us-east-1:123456789012:orders-queue-5d6e7f8" },
        },
      }),
      resource("orders-queue-policy", "aws:sqs/queuePolicy:QueuePolicy", component, {
        inputs: {
          queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue-5d6e7f8",
          policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { Service: "sns.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: "arn:aws:sqs:us-east-1:123456789012:orders-queue-5d6e7f8",
                Condition: {
                  ArnEquals: { "aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:orders-topic-1a2b3c4" },
                },
              },
            ],
          }),
        },
      }),
      resource("orders-alarm", "aws:cloudwatch/metricAlarm:MetricAlarm", component, {
        inputs: { dimensions: { QueueName: undefined }, alarmActions: [undefined], threshold: 0 },
        unknownInputs: ["dimensions.QueueName", "alarmActions[0]"],
      }),
      resource("assets", "aws:s3/bucket:Bucket", STACK_URN, {
        inputs: { policy: undefined },
        unknownInputs: ["policy"],
      }),
      resource("api-token", "aws:secretsmanager/secretVersion:SecretVersion", STACK_URN, {
        inputs: { secretString: "token-that-must-stay-secret" },
        secretInputs: ["secretString"],
      }),
    ],
    invokes: [],
    disabled: [],
    outputs: { queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue-5d6e7f8" },
    nodeVersion: "v24.0.0",
    seconds: 1,
    ...overrides,
  };
}

describe("queue-patterns plan: the plan as pulumi preview prints one", () => {
  it("shows type tokens as Pulumi's display does: the module's file part dropped when it names the type", () => {
    assert.equal(displayType("aws:sqs/queue:Queue"), "aws:sqs:Queue");
    assert.equal(displayType("aws:iam/rolePolicyAttachment:RolePolicyAttachment"), "aws:iam:RolePolicyAttachment");
    assert.equal(displayType("aws:lambda/function:Function"), "aws:lambda:Function");
    assert.equal(displayType("azure-native:storage:Queue"), "azure-native:storage:Queue");
    assert.equal(displayType("queue-patterns:aws:FifoIngester"), "queue-patterns:aws:FifoIngester");
    assert.equal(
      displayType("pulumi-nodejs:dynamic/queue-patterns:FlexDeployment"),
      "pulumi-nodejs:dynamic/queue-patterns:FlexDeployment",
    );
    assert.equal(displayType("pulumi:pulumi:Stack"), "pulumi:pulumi:Stack");
  });

  it("prints a tree by parent, in registration order, one `+ ... create` line per resource, and the summary", () => {
    const text = renderPlan(plan());
    const rows = text.split("\n").filter((line) => line.startsWith(" +   "));
    assert.deepEqual(
      rows.map((line) => line.replace(/\s+/g, " ").trim()),
      [
        "+ pulumi:pulumi:Stack shop-dev create",
        "+ ├─ shop:index:Orders orders create",
        "+ │ ├─ aws:sns:Topic orders-topic create",
        "+ │ ├─ aws:sqs:Queue orders-queue create",
        "+ │ ├─ aws:sqs:QueuePolicy orders-queue-policy create",
        "+ │ └─ aws:cloudwatch:MetricAlarm orders-alarm create",
        "+ ├─ aws:s3:Bucket assets create",
        "+ └─ aws:secretsmanager:SecretVersion api-token create",
      ],
    );
    assert.match(text, /^ {5}Type +Name +Plan$/m);
    // Columns line up: every row's name starts where the header's Name does.
    const nameColumn = text
      .split("\n")
      .find((line) => line.includes("Type"))!
      .indexOf("Name");
    for (const row of rows) assert.equal(row[nameColumn - 1], " ", row);
    assert.ok(text.trimEnd().endsWith("Resources:\n    + 8 to create"), text);
    assert.ok(!text.includes("orders-queue-5d6e7f8"), "without details, no inputs are printed");
  });

  it("in details, shows unknown inputs as output<string> where they are, not as empty objects or nulls", () => {
    const text = renderPlan(plan(), { details: true });
    assert.match(text, /dimensions *: \{\n.*QueueName: output<string>\n/);
    assert.match(text, /alarmActions *: \[\n.*\[0\]: output<string>\n/);
    assert.match(text, /policy: output<string>\n/);
    assert.doesNotMatch(text, /dimensions +: \{\}|\[null\]/);
  });

  it("in details, shows a value the provider computes as output<string> with the output it comes from", () => {
    const text = renderPlan(plan(), { details: true });
    assert.match(text, /queueUrl: output<string> \(orders-queue\.id\)/);
    assert.match(text, /Outputs:\n {4}queueUrl: output<string> \(orders-queue\.id\)\n/);
  });

  it("in details, shows policy documents whole, parsed, with the outputs they are built from", () => {
    const text = renderPlan(plan(), { details: true });
    assert.match(text, /policy +: \(json\) \{/);
    assert.match(text, /Action +: "sqs:SendMessage"/);
    assert.match(text, /Resource +: output<string> \(orders-queue\.arn\)/);
    assert.match(text, /aws:SourceArn: output<string> \(orders-topic\.arn\)/);
    assert.match(text, /Service: "sns\.amazonaws\.com"/);
  });

  it("in details, puts the deployer's account and other computed parts of a text as ${reference}", () => {
    const result = plan();
    result.resources.push(
      resource("orders-role", "aws:iam/role:Role", STACK_URN, {
        inputs: { description: "reads arn:aws:sqs:us-east-1:123456789012:orders-queue-5d6e7f8 as 123456789012" },
      }),
    );
    const text = renderPlan(result, { details: true });
    assert.match(text, /"reads \$\{orders-queue\.arn\} as \$\{getCallerIdentity\(\)\.accountId\}"/);
  });

  it("in details, never prints a secret input", () => {
    const text = renderPlan(plan(), { details: true });
    assert.match(text, /secretString: \[secret\]/);
    assert.ok(!text.includes("token-that-must-stay-secret"));
  });

  it("in details, prints role definition ids whole, with the built-in role they name", () => {
    const roleDefinitionId =
      "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    const result = plan();
    result.resources.push(
      resource("grant", "azure-native:authorization:RoleAssignment", STACK_URN, {
        inputs: { roleDefinitionId, principalType: "ServicePrincipal" },
      }),
    );
    const text = renderPlan(result, { details: true });
    assert.ok(text.includes(`roleDefinitionId: "${roleDefinitionId}" (Storage Blob Data Contributor)`), text);
  });

  it("lists the components the config disables, with the file that disables them", () => {
    const text = renderPlan(plan({ disabled: [{ key: "shop:persistentEniAsg", file: "Pulumi.dev.yaml" }] }));
    assert.match(
      text,
      /Disabled \(enabled: false\), nothing planned:\n {4}shop:persistentEniAsg {2}\(Pulumi\.dev\.yaml\)/,
    );
  });

  it("prints a failing program's diagnostics instead of a plan", () => {
    const text = renderPlan(plan({ failure: "Error: config shop:orders.batchSize must be a number", resources: [] }));
    assert.match(text, /Diagnostics:\n {4}Error: config shop:orders\.batchSize must be a number/);
    assert.match(text, /The program failed/);
    assert.doesNotMatch(text, /to create/);
  });
});

describe("queue-patterns plan: the stack's config", () => {
  function project(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-plan-config-"));
    for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
    return dir;
  }

  it("reads Pulumi.yaml's config, then Pulumi.<stack>.yaml's over it, namespacing bare keys with the project", () => {
    const dir = project({
      "Pulumi.yaml": [
        "name: shop",
        "runtime: nodejs",
        "config:",
        "  aws:region: eu-west-1",
        "  batchSize:",
        "    type: integer",
        "    default: 10",
      ].join("\n"),
      "Pulumi.dev.yaml": [
        "config:",
        "  aws:region: us-east-1",
        "  shop:orders:",
        "    enabled: false",
        "  shop:apiToken:",
        "    secure: v1:abcdef",
      ].join("\n"),
    });
    try {
      const { config, secretKeys, disabled, files } = stackConfig(dir, "dev");
      assert.deepEqual(config, {
        "aws:region": "us-east-1",
        "shop:batchSize": 10,
        "shop:orders": { enabled: false },
        "shop:apiToken": "offline-plan-secret",
      });
      assert.deepEqual(secretKeys, ["shop:apiToken"]);
      assert.deepEqual(disabled, [{ key: "shop:orders", file: "Pulumi.dev.yaml" }]);
      assert.deepEqual(
        files.map((file) => path.basename(file)),
        ["Pulumi.yaml", "Pulumi.dev.yaml"],
      );
      assert.equal(defaultStack(dir), "dev");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("plans with Pulumi.yaml alone when the stack has no file, and defaults to dev without one", () => {
    const dir = project({ "Pulumi.yaml": "name: shop\nruntime: nodejs\n" });
    try {
      assert.equal(defaultStack(dir), "dev");
      assert.deepEqual(stackConfig(dir, "dev").config, {});
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("queue-patterns: the command line", () => {
  it("parses plan with a folder, --stack and --details in any order", () => {
    assert.deepEqual(parseArguments(["plan"]), { command: "plan", programDir: ".", details: false });
    assert.deepEqual(parseArguments(["plan", "infra", "--stack", "prod", "--details"]), {
      command: "plan",
      programDir: "infra",
      stack: "prod",
      details: true,
    });
    assert.deepEqual(parseArguments(["plan", "--stack=prod", "infra"]), {
      command: "plan",
      programDir: "infra",
      stack: "prod",
      details: false,
    });
    assert.deepEqual(parseArguments([]), { command: "help" });
    assert.deepEqual(parseArguments(["plan", "--help"]), { command: "help" });
  });

  it("rejects what it does not know with a usage error that names it", () => {
    assert.throws(() => parseArguments(["deploy"]), new UsageError('unknown command "deploy"'));
    assert.throws(() => parseArguments(["plan", "--stak", "dev"]), new UsageError('unknown option "--stak"'));
    assert.throws(() => parseArguments(["plan", "--stack"]), new UsageError("--stack needs a stack name"));
    assert.throws(() => parseArguments(["plan", "a", "b"]), new UsageError('one program folder only, got "a" and "b"'));
  });

  it("parses dev like plan", () => {
    assert.deepEqual(parseArguments(["dev", "infra", "--stack", "prod"]), {
      command: "dev",
      programDir: "infra",
      stack: "prod",
      details: false,
    });
  });
});

describe("queue-patterns dev: what the local runs did", () => {
  it("counts what each component's run produced, lists dead letters with their reasons, and names failures and skips", () => {
    const text = renderExercise({
      project: "listings",
      stack: "dev",
      entry: "index.ts",
      components: [
        {
          component: "FifoIngester",
          name: "listings",
          node: { version: "v24.0.0", major: 24 } as never,
          published: 2,
          deliveries: [{} as never],
          invocations: [{} as never, {} as never],
          deadLetters: [{ body: '{"id":"sample-2"}', reason: "fetch failed" }],
          remaining: 0,
          elapsedMs: 4200,
        },
        { component: "DedupForwardingQueue", name: "readings", skipped: "not run locally yet" },
        { component: "FanOutIngest", name: "ids", error: "Error: Azurite did not start" },
      ],
    });
    assert.equal(
      text,
      [
        'Local runs of stack "dev" (index.ts), with sample events:',
        "  ✓ FifoIngester listings (4.2 s): published 2, deliveries 1, invocations 2, deadLetters 1, remaining 0",
        '      dead-lettered: {"id":"sample-2"}: fetch failed',
        "  - DedupForwardingQueue readings: skipped, not run locally yet",
        "  ✗ FanOutIngest ids: the local run failed",
        "      Error: Azurite did not start",
      ].join("\n"),
    );
  });
});
