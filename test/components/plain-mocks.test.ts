/**
 * Users test their own stacks with the mocks of Pulumi's unit-testing guide
 * (https://www.pulumi.com/docs/iac/guides/testing/unit/): every resource's state is its inputs, every
 * call returns its inputs. Provider outputs the components read (ARNs, host names, principal ids)
 * are then simply absent, as they are unknown in a real `pulumi preview`: each component must
 * construct and resolve every output without an error of its own.
 */
import * as assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";

// Exactly the guide's mocks, `dryRun` false as in its example.
pulumi.runtime.setMocks(
  {
    newResource: (args: pulumi.runtime.MockResourceArgs) => ({ id: args.name + "_id", state: args.inputs }),
    call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
  },
  "project",
  "stack",
  false,
);

// Errors raised inside an Output's apply that nothing awaits surface only here.
const unhandled: unknown[] = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

import { runtimeEntry } from "../../components/core/artifact";
import { DedupForwardingQueue } from "../../components/dedup-forwarding-queue";
import { FanOutIngest } from "../../components/fan-out-ingest";
import { FifoIngester } from "../../components/fifo-ingester";
import { FunctionApp } from "../../components/azure/function-app";
import { PersistentEniAsg } from "../../components/persistent-eni-asg";
import { ScheduledNotifier } from "../../components/scheduled-notifier";
import { echoRuntime } from "../fixtures/azure-echo-runtime";

/**
 * Resolves every Output a component exposes, and the urn and id of every resource it exposes,
 * descending into child components (FanOutIngest's FunctionApp, its FlexDeployment).
 */
async function resolveEverything(value: unknown, seen = new Set<unknown>()): Promise<void> {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (pulumi.Output.isInstance(value)) {
    await (value as any).promise();
    return;
  }
  if (pulumi.CustomResource.isInstance(value)) {
    await (value.urn as any).promise();
    await (value.id as any).promise();
  }
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) await resolveEverything(child, seen);
}

async function settle(): Promise<void> {
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}

describe("under the plain mocks of Pulumi's testing guide", () => {
  after(() => {
    assert.deepEqual(unhandled.map(String), [], "no error escaped an Output");
  });

  it("a FanOutIngest constructs and every output resolves", async () => {
    const ingest = new FanOutIngest<string>("ingest", {
      resourceGroupName: "rg",
      source: async function* () {
        yield "id-1";
      },
    });
    await resolveEverything(ingest);
    await settle();
  });

  it("a FanOutIngest on an existing system topic constructs and every output resolves", async () => {
    const ingest = new FanOutIngest<string>("legacy", {
      resourceGroupName: "rg",
      source: async function* () {
        yield "id-1";
      },
      systemTopic: { existing: "legacy-topic" },
    });
    await resolveEverything(ingest);
    await settle();
  });

  it("a FunctionApp constructs and every output resolves", async () => {
    const app = new FunctionApp("plain", {
      resourceGroupName: "rg",
      entry: runtimeEntry(echoRuntime, { queueName: "in" }),
      callbacks: { handler: async () => "ok" },
      functionNames: ["echo"],
    });
    await resolveEverything(app);
    await settle();
  });

  it("a FifoIngester constructs and every output resolves", async () => {
    const ingester = new FifoIngester<{ id: string }>("listings", {
      handler: async (listing) => {
        console.log(listing.id);
      },
    });
    await resolveEverything(ingester);
    await settle();
  });

  it("a FifoIngester on an existing topic constructs and every output resolves", async () => {
    const ingester = new FifoIngester<{ id: string }>("existing", {
      handler: async (listing) => {
        console.log(listing.id);
      },
      topic: { existing: "arn:aws:sns:us-east-1:123456789012:listings.fifo" },
    });
    await resolveEverything(ingester);
    await settle();
  });

  it("a DedupForwardingQueue constructs and every output resolves", async () => {
    const queue = new DedupForwardingQueue("readings", {
      resourceGroupName: "rg",
      windows: { daily: 86_400 },
      process: async ({ dataSetId }) => {
        console.log(dataSetId);
      },
      producerPrincipalIds: { ingest: "00000000-0000-0000-0000-000000000001" },
    });
    await resolveEverything(queue);
    await settle();
  });

  it("a DedupForwardingQueue in an existing namespace constructs and every output resolves", async () => {
    const queue = new DedupForwardingQueue("shared", {
      resourceGroupName: "rg",
      windows: { daily: 86_400 },
      process: async ({ dataSetId }) => {
        console.log(dataSetId);
      },
      namespace: { existing: { name: "shared-bus", resourceGroupName: "messaging" } },
    });
    await resolveEverything(queue);
    await settle();
  });

  it("a PersistentEniAsg on an existing ENI constructs and every output resolves", async () => {
    const asg = new PersistentEniAsg("legacy", {
      networkInterface: { existing: "eni-0123456789abcdef0" },
      imageId: "ami-0123456789abcdef0",
      instanceType: "t4g.small",
      targetGroupArns: [],
    });
    await resolveEverything(asg);
    await settle();
  });

  it("a ScheduledNotifier with an existing secret constructs and every output resolves", async () => {
    const notifier = new ScheduledNotifier("existing", {
      schedule: "rate(1 hour)",
      recipients: async function* () {
        yield { id: "user-1" };
      },
      send: async () => {},
      apiToken: {
        existing: "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token-AbCdEf",
        kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-0123-0123-0123456789ab",
      },
    });
    await resolveEverything(notifier);
    await settle();
  });

  it("a PersistentEniAsg constructs and every output resolves", async () => {
    const asg = new PersistentEniAsg("web", {
      networkInterface: {
        subnetId: "subnet-0123456789abcdef0",
        privateIp: "10.0.1.10",
        securityGroupIds: ["sg-0123456789abcdef0"],
        subnetCidrBlock: "10.0.1.0/24",
      },
      imageId: "ami-0123456789abcdef0",
      instanceType: "t4g.small",
      targetGroupArns: ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"],
    });
    await resolveEverything(asg);
    await settle();
  });

  it("a ScheduledNotifier constructs and every output resolves", async () => {
    const notifier = new ScheduledNotifier("reminders", {
      schedule: "cron(0 9 ? * MON-FRI *)",
      recipients: async function* () {
        yield { id: "user-1" };
      },
      send: async () => {},
      apiToken: { value: pulumi.secret("t0ken") },
    });
    await resolveEverything(notifier);
    await settle();
  });
});
