/**
 * What a change of an argument does to the children on the next `pulumi up`: the component is built
 * before and after the change on the same URNs, and each child is classified by the providers'
 * replacement model (test/harness/replacement-model.ts). A child that holds data may be replaced
 * only where the component refuses the change, heals itself, or documents what is lost.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CallMock, existingEniLookup, installMocks, type ResourceRecorder } from "../../testing/mocks";

const CALLS: Record<string, CallMock> = existingEniLookup({
  subnetId: "subnet-b",
  privateIp: "10.0.2.20",
  description: "legacy app eth1",
  securityGroups: ["sg-legacy"],
  availabilityZone: "us-east-1b",
});
installMocks(CALLS);

import {
  PERSISTENT_ENI_ID_TAG,
  PersistentEniAsg,
  type PersistentEniAsgArgs,
} from "../../components/persistent-eni-asg";
import { type ChildImpact, classifyChanges } from "../harness/replacement-model";

const SCOPE = { project: "queue-patterns", stack: "test" };

/** Runs `program` twice, the second time over the first's state, and classifies every child. */
async function impactOf(before: () => void, after: () => void): Promise<ChildImpact[]> {
  const first = installMocks(CALLS, SCOPE);
  before();
  await first.settle();
  const second: ResourceRecorder = installMocks(CALLS, { ...SCOPE, prior: first });
  after();
  await second.settle();
  assert.deepEqual([...first.rejected, ...second.rejected], []);
  return classifyChanges(first.resources, second.resources);
}

const impactOn = (impacts: ChildImpact[], type: string) => impacts.filter((i) => i.type === type);

const CREATED_ENI = {
  subnetId: "subnet-a",
  privateIp: "10.0.1.10",
  securityGroupIds: ["sg-app"],
  subnetCidrBlock: "10.0.1.0/24",
};
const ENI_ASG: PersistentEniAsgArgs = {
  networkInterface: CREATED_ENI,
  imageId: "ami-0123456789abcdef0",
  instanceType: "t4g.small",
};

describe("PersistentEniAsg: a changed ENI heals itself", () => {
  for (const [what, networkInterface] of [
    ["networkInterface.privateIp", { ...CREATED_ENI, privateIp: "10.0.1.11" }],
    [
      "networkInterface.subnetId",
      { ...CREATED_ENI, subnetId: "subnet-c", subnetCidrBlock: "10.0.3.0/24", privateIp: "10.0.3.10" },
    ],
  ] as const) {
    it(`${what}: the ENI is replaced delete-first, and the new ENI's id reaches a new instance`, async () => {
      const impacts = await impactOf(
        () => new PersistentEniAsg("web", ENI_ASG),
        () => new PersistentEniAsg("web", { ...ENI_ASG, networkInterface }),
      );
      const [eni] = impactOn(impacts, "aws:ec2/networkInterface:NetworkInterface");
      // Never two ENIs with one description: the old one is force-detached and deleted first.
      assert.equal(eni.impact, "replaced delete-first");
      // The template carries the new ENI's id, so it changes: a new version...
      const [template] = impactOn(impacts, "aws:ec2/launchTemplate:LaunchTemplate");
      assert.equal(template.impact, "updated in place");
      assert.ok(template.changed.includes("tagSpecifications"));
      // ...which the group's instance refresh rolls out: the instance is replaced and attached anew.
      const [group] = impactOn(impacts, "aws:autoscaling/group:Group");
      assert.notEqual(group.impact, "replaced delete-first");
      assert.notEqual(group.impact, "replaced create-first");
    });
  }

  it("tags instances with the ENI's id and refreshes them when the launch template changes", async () => {
    const recorder = installMocks(CALLS, SCOPE);
    new PersistentEniAsg("tagged", ENI_ASG);
    await recorder.settle();
    const eni = recorder.named("aws:ec2/networkInterface:NetworkInterface", "tagged-eni");
    const template = recorder.named("aws:ec2/launchTemplate:LaunchTemplate", "tagged-template");
    assert.equal(template.inputs.tagSpecifications[0].tags[PERSISTENT_ENI_ID_TAG], eni.id);
    const group = recorder.named("aws:autoscaling/group:Group", "tagged-group");
    assert.deepEqual(group.inputs.instanceRefresh, { strategy: "Rolling", preferences: { minHealthyPercentage: 0 } });
  });

  it("switching to networkInterface.existing retags the template with the existing ENI's id", async () => {
    const impacts = await impactOf(
      () => new PersistentEniAsg("switch", ENI_ASG),
      () => new PersistentEniAsg("switch", { ...ENI_ASG, networkInterface: { existing: "eni-0existing0000000" } }),
    );
    const [template] = impactOn(impacts, "aws:ec2/launchTemplate:LaunchTemplate");
    assert.ok(template.changed.includes("tagSpecifications"));
    assert.deepEqual(
      impactOn(impacts, "aws:ec2/networkInterface:NetworkInterface").map((i) => i.impact),
      ["deleted"],
      "the created ENI is deleted",
    );
  });
});
