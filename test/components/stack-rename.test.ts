/**
 * `pulumi stack rename` and a project rename keep every resource's URN (the engine rewrites the
 * stack and project parts) but change what `pulumi.getStack()` and `pulumi.getProject()` return, so
 * every name derived from them. The program is built under the original stack, a renamed stack and a
 * renamed project; no child that holds data may be replaced (replacement-model.ts).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CallMock,
  EXISTING_NAMESPACE_LOOKUP,
  existingEniLookup,
  installMocks,
  type ResourceRecorder,
} from "../../testing/mocks";

const CALLS: Record<string, CallMock> = {
  ...existingEniLookup({
    subnetId: "subnet-a",
    privateIp: "10.0.1.10",
    description: "eni",
    securityGroups: ["sg-app"],
    availabilityZone: "us-east-1a",
  }),
  ...EXISTING_NAMESPACE_LOOKUP,
};
installMocks(CALLS);

import * as pulumi from "@pulumi/pulumi";
import { DedupForwardingQueue } from "../../components/dedup-forwarding-queue";
import { FanOutIngest } from "../../components/fan-out-ingest";
import { FifoIngester } from "../../components/fifo-ingester";
import { PersistentEniAsg } from "../../components/persistent-eni-asg";
import { ScheduledNotifier } from "../../components/scheduled-notifier";
import { classifyChanges, losesData } from "../harness/replacement-model";

/** One instance of every component, and the forms whose names depend on the stack. */
function program(): void {
  new FifoIngester("listings", { handler: async () => {} });
  new ScheduledNotifier("reminders", {
    schedule: "rate(1 hour)",
    recipients: async function* () {
      yield { id: "u" };
    },
    send: async () => {},
    apiToken: { value: pulumi.secret("token") },
  });
  new PersistentEniAsg("web", {
    networkInterface: {
      subnetId: "subnet-a",
      privateIp: "10.0.1.10",
      securityGroupIds: ["sg-app"],
      subnetCidrBlock: "10.0.1.0/24",
    },
    imageId: "ami-0123456789abcdef0",
    instanceType: "t4g.small",
    // The default group name is `<project>-<stack>-<name>`; a rename replaces the group unless it is set.
    autoScalingGroupName: "web-group",
  });
  new FanOutIngest("uploads", {
    source: async function* () {
      yield 1;
    },
  });
  new DedupForwardingQueue("readings", {
    resourceGroupName: "rg",
    windows: { daily: 86_400 },
    process: async () => {},
  });
  new DedupForwardingQueue("shared", {
    resourceGroupName: "rg",
    windows: { daily: 86_400 },
    process: async () => {},
    namespace: { existing: { name: "team-bus" } },
  });
}

async function run(project: string, stack: string, prior?: ResourceRecorder): Promise<ResourceRecorder> {
  const recorder = installMocks(CALLS, { project, stack, prior });
  program();
  await recorder.settle();
  assert.deepEqual(recorder.rejected, []);
  return recorder;
}

describe("a stack or project rename", () => {
  for (const [what, project, stack] of [
    ["a renamed stack", "queue-patterns", "production"],
    ["a renamed project", "renamed-patterns", "test"],
  ] as const) {
    it(`replaces no child that holds data, under ${what}`, async () => {
      const before = await run("queue-patterns", "test");
      const after = await run(project, stack, before);
      const impacts = classifyChanges(before.resources, after.resources);
      assert.ok(
        impacts.some((i) => i.type === "azure-native:storage:StorageAccount"),
        "the storage accounts were compared",
      );
      assert.deepEqual(impacts.filter(losesData), []);
    });
  }
});
