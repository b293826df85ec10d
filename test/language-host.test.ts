/**
 * The dev stack and the example stack as `pulumi up` and `pulumi preview` run them: through
 * `@pulumi/pulumi`'s own `cmd/run` (which compiles index.ts itself), config in `PULUMI_CONFIG`,
 * against a loopback gRPC engine (cli/language-host.ts). The in-process plan of the same config
 * under `setMocks` is the reference: both paths must declare the same resources.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { planShape, type ProgramRun, runProgram, startDynamicProviderHost } from "../cli/language-host";
import { engineConfig, stackConfig } from "../cli/stack-config";
import { installMocks } from "../testing/mocks";

const repoRoot = path.resolve(__dirname, "..", "..");
const STACK = "dev";
const API_TOKEN = "token-that-must-stay-secret";

/** Pulumi.dev.yaml with every component enabled and the secret the README asks for set. */
function everyComponentConfig(): { config: Record<string, unknown>; secretKeys: string[] } {
  const { config } = stackConfig(repoRoot, STACK);
  for (const [key, section] of Object.entries(config)) {
    if (key.startsWith("queue-patterns:") && typeof section === "object") config[key] = { ...section, enabled: true };
  }
  config["queue-patterns:scheduledNotifierApiToken"] = API_TOKEN;
  return { config, secretKeys: ["queue-patterns:scheduledNotifierApiToken"] };
}

/** The program's failure as the user sees it: the engine's error log lines and stderr. */
function failureText(run: ProgramRun): string {
  return [...run.logs.filter((line) => line.severity === "error").map((line) => line.message), run.stderr].join("\n");
}

function expectSuccess(run: ProgramRun): void {
  assert.equal(run.exitCode, 0, `the program failed:\n${failureText(run)}`);
}

describe("the dev stack run as Pulumi runs it (cmd/run, PULUMI_CONFIG, gRPC engine)", () => {
  const { config, secretKeys } = everyComponentConfig();
  let up: ProgramRun;
  let preview: ProgramRun;
  let inProcess: { shape: string[]; outputs: Record<string, Record<string, unknown>> };

  before(async () => {
    [up, preview] = await Promise.all([
      runProgram({ projectDir: repoRoot, stack: STACK, config, secretKeys, preview: false }),
      runProgram({ projectDir: repoRoot, stack: STACK, config, secretKeys, preview: true }),
    ]);
    const recorder = installMocks();
    pulumi.runtime.setAllConfig(engineConfig(config), secretKeys);
    const outputs = require("../index") as Record<string, Record<string, unknown>>;
    await recorder.settle();
    inProcess = { shape: planShape(recorder.resources), outputs };
  });

  it("runs index.ts, the entry Pulumi.yaml names, not the library package.json exports", () => {
    expectSuccess(up);
    assert.equal(up.program.entry, "index.ts");
    assert.ok(up.registrations.length > 1, `only ${up.registrations.length} registration(s): the stack alone`);
  });

  it("registers the same resources, names and parents as the in-process plan", () => {
    expectSuccess(up);
    const stackName = `queue-patterns-${STACK}`;
    assert.deepEqual(planShape(up.registrations, stackName), inProcess.shape);
  });

  it("exports each enabled component's outputs as stack outputs, every one with a value", () => {
    expectSuccess(up);
    const outputs = up.stackOutputs ?? {};
    assert.deepEqual(Object.keys(outputs).sort(), Object.keys(inProcess.outputs).sort());
    for (const [section, values] of Object.entries(outputs)) {
      assert.deepEqual(Object.keys(values).sort(), Object.keys(inProcess.outputs[section]).sort(), section);
      for (const [key, value] of Object.entries(values)) assert.notEqual(value, undefined, `${section}.${key}`);
    }
  });

  it("accepts queue-patterns:scheduledNotifierApiToken, the secret Pulumi.dev.yaml asks for, and keeps it secret", () => {
    expectSuccess(up);
    const holders = up.registrations.filter((r) => JSON.stringify(r.inputs).includes(API_TOKEN));
    assert.deepEqual(
      holders.map((r) => r.type),
      ["aws:secretsmanager/secretVersion:SecretVersion"],
    );
    assert.deepEqual(holders[0].secretInputs, ["secretString"], "the token reaches the engine as a secret");
    assert.ok(!JSON.stringify(up.stackOutputs).includes(API_TOKEN), "no stack output holds the token");
  });

  it("FlexDeployment's registered provider runs in Pulumi's dynamic-provider host: a new package redeploys, a fresh token does not", async () => {
    expectSuccess(up);
    const deployments = up.registrations.filter(
      (r) => r.type === "pulumi-nodejs:dynamic/queue-patterns:FlexDeployment",
    );
    assert.ok(deployments.length > 0, "the dev stack registers its Flex deployments as dynamic resources");
    const host = await startDynamicProviderHost();
    try {
      for (const deployment of deployments) {
        const olds = { ...deployment.inputs, deploymentId: "d1", statusText: "success" };
        assert.equal(
          typeof deployment.inputs.__provider,
          "string",
          `${deployment.name} carries its serialized provider`,
        );
        assert.equal(await host.diff("id", olds, { ...deployment.inputs, token: "a-fresh-token" }), "none");
        assert.equal(await host.diff("id", olds, { ...deployment.inputs, packageSha256: "0".repeat(64) }), "some");
      }
    } finally {
      await host.stop();
    }
  });

  it("plans the same resources in a preview, where ids and computed outputs are unknown", () => {
    expectSuccess(preview);
    assert.deepEqual(planShape(preview.registrations, `queue-patterns-${STACK}`), inProcess.shape);
  });

  it("says which inputs a preview leaves unknown, at their property paths, instead of dropping them", () => {
    expectSuccess(preview);
    const unknownsOf = (name: string) => preview.registrations.find((r) => r.name === name)?.unknownInputs ?? [];
    assert.ok(unknownsOf("fifoIngester-dlq-alarm").includes("dimensions.QueueName"), "the alarm's queue name");
    assert.ok(unknownsOf("fifoIngester-queue-policy").includes("policy"), "a policy built from the queue's ARN");
    assert.ok(
      unknownsOf("fifoIngester-consumer-function").includes("environment.variables"),
      "environment variables holding a queue URL",
    );
    assert.ok(unknownsOf("fanOutIngest-dead-lettered-events").includes("scopes[0]"), "an alert's scope");
    assert.deepEqual(unknownsOf("fifoIngester-topic"), [], "a topic's inputs are all known");
  });
});

describe("the dev stack's config check, as Pulumi runs it", () => {
  it("rejects a key that names no component or setting, listing the sections and settings it knows", async () => {
    const run = await runProgram({
      projectDir: repoRoot,
      stack: STACK,
      config: { "aws:region": "us-east-1", "queue-patterns:fifoIngestr": { enabled: true } },
      preview: true,
    });
    assert.notEqual(run.exitCode, 0);
    assert.match(
      failureText(run),
      /config queue-patterns:fifoIngestr names no component or setting of this stack; component sections: fanOutIngest, fifoIngester, persistentEniAsg, scheduledNotifier, dedupForwardingQueue; other settings: scheduledNotifierApiToken/,
    );
    assert.equal(run.registrations.filter((r) => r.type !== "pulumi:pulumi:Stack").length, 0);
  });
});

describe("the examples/listings stack run as Pulumi runs it from its own folder", () => {
  let project: string;
  let run: ProgramRun;

  before(async () => {
    // The example as `npm install` leaves it: queue-patterns linked (a `file:` dependency), the
    // packages it names linked from this checkout.
    const example = path.join(repoRoot, "examples", "listings");
    project = fs.mkdtempSync(path.join(os.tmpdir(), "qp-example-host-"));
    for (const file of ["Pulumi.yaml", "index.ts", "tsconfig.json", "package.json"]) {
      fs.copyFileSync(path.join(example, file), path.join(project, file));
    }
    const modules = path.join(project, "node_modules");
    fs.mkdirSync(path.join(modules, "@types"), { recursive: true });
    fs.symlinkSync(repoRoot, path.join(modules, "queue-patterns"), "dir");
    for (const dependency of ["@pulumi", "@aws-sdk", "typescript"]) {
      fs.symlinkSync(path.join(repoRoot, "node_modules", dependency), path.join(modules, dependency), "dir");
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules", "@types", "node"), path.join(modules, "@types", "node"), "dir");
    run = await runProgram({
      projectDir: project,
      stack: "dev",
      config: { "aws:region": "eu-west-1" },
      preview: false,
    });
  });
  after(() => fs.rmSync(project, { recursive: true, force: true }));

  it("keeps its own entry (package.json main) and registers its FifoIngester with the topic, queue and function", () => {
    expectSuccess(run);
    assert.equal(run.program.entry, ".");
    const ingester = run.registrations.filter((r) => r.type === "queue-patterns:aws:FifoIngester");
    assert.deepEqual(
      ingester.map((r) => r.name),
      ["listings"],
    );
    for (const type of ["aws:sns/topic:Topic", "aws:sqs/queue:Queue", "aws:lambda/function:Function"]) {
      assert.ok(
        run.registrations.some((r) => r.type === type),
        `no ${type} registered`,
      );
    }
    assert.deepEqual(Object.keys(run.stackOutputs ?? {}).sort(), ["deadLetterQueueUrl", "topicArn"]);
  });
});
