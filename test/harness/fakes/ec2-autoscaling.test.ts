/**
 * The fake the attacher is tested on must refuse what EC2 and Auto Scaling refuse, or the attacher
 * tests would prove nothing. These talk to it with the real SDK clients over its HTTP endpoint, so
 * they also check the Query protocol layer.
 */
import * as assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  AttachNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { FakeAws, FakeAwsEndpoint } from "./ec2-autoscaling";

const ZONE = "us-east-1a";
/** Longer than the fake's attach and detach (150 ms), which are long next to one SDK round trip. */
const SETTLE_MS = 200;

describe("the fake EC2 and Auto Scaling, through the SDK", () => {
  let endpoint: FakeAwsEndpoint;
  let world: FakeAws;
  let ec2: EC2Client;
  let autoScaling: AutoScalingClient;
  before(async () => {
    endpoint = await FakeAwsEndpoint.start(new FakeAws());
    const config = {
      endpoint: endpoint.url,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    };
    ec2 = new EC2Client(config);
    autoScaling = new AutoScalingClient(config);
  });
  after(() => endpoint.close());
  beforeEach(() => {
    world = new FakeAws({ bootMs: 50, attachMs: 150, detachMs: 150, shutdownMs: 60_000 });
    endpoint.world = world;
  });

  const attach = (NetworkInterfaceId: string, InstanceId: string) =>
    ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId, InstanceId, DeviceIndex: 1 }));
  const attachment = async (NetworkInterfaceId: string) =>
    (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [NetworkInterfaceId] })))
      .NetworkInterfaces?.[0]?.Attachment;

  it("refuses to attach an ENI that is in use", async () => {
    const eni = world.addEni({ description: "d", availabilityZone: ZONE, privateIp: "10.0.1.10" });
    world.attachNow(eni, world.addInstance({ availabilityZone: ZONE }));
    await assert.rejects(attach(eni, world.addInstance({ availabilityZone: ZONE })), {
      name: "InvalidNetworkInterface.InUse",
      message: `Interface: [${eni}] in use.`,
    });
  });

  it("can refuse an ENI in use with InvalidParameterValue, which EC2 documents it may answer instead of InUse", async () => {
    world = new FakeAws(world.timings, { eniInUseError: "InvalidParameterValue" });
    endpoint.world = world;
    const eni = world.addEni({ description: "d", availabilityZone: ZONE, privateIp: "10.0.1.10" });
    world.attachNow(eni, world.addInstance({ availabilityZone: ZONE }));
    await assert.rejects(attach(eni, world.addInstance({ availabilityZone: ZONE })), { name: "InvalidParameterValue" });
    assert.deepEqual(
      world.callsOf("AttachNetworkInterface").map((call) => call.error),
      ["InvalidParameterValue"],
    );
  });

  it("refuses to attach an ENI to an instance of another Availability Zone", async () => {
    const eni = world.addEni({ description: "d", availabilityZone: "us-east-1b", privateIp: "10.0.1.10" });
    await assert.rejects(attach(eni, world.addInstance({ availabilityZone: ZONE })), { name: "InvalidParameterValue" });
  });

  it("refuses to attach to an instance that is still pending", async () => {
    const eni = world.addEni({ description: "d", availabilityZone: ZONE, privateIp: "10.0.1.10" });
    const { instanceId } = world.launch({ group: "g", hookName: "h", availabilityZone: ZONE, tags: {} });
    await assert.rejects(attach(eni, instanceId), { name: "IncorrectInstanceState" });
  });

  it("moves an attachment through attaching to attached, and a detach through detaching to available", async () => {
    const eni = world.addEni({ description: "d", availabilityZone: ZONE, privateIp: "10.0.1.10" });
    const instance = world.addInstance({ availabilityZone: ZONE });
    const { AttachmentId } = await attach(eni, instance);
    assert.equal((await attachment(eni))?.Status, "attaching");
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    assert.equal((await attachment(eni))?.Status, "attached");
    await ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId }));
    assert.equal((await attachment(eni))?.Status, "detaching");
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    assert.equal(await attachment(eni), undefined);
    assert.equal(world.eni(eni).status, "available");
  });

  it("keeps an instance that holds on detaching until the detach is forced", async () => {
    const eni = world.addEni({ description: "d", availabilityZone: ZONE, privateIp: "10.0.1.10" });
    world.attachNow(eni, world.addInstance({ availabilityZone: ZONE }), { holdsUntilForced: true });
    const AttachmentId = (await attachment(eni))?.AttachmentId;
    await ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId }));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    assert.equal((await attachment(eni))?.Status, "detaching");
    await ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId, Force: true }));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    assert.equal(await attachment(eni), undefined);
  });

  it("accepts one completion of a lifecycle action, with its token only", async () => {
    const { instanceId, token } = world.launch({ group: "g", hookName: "h", availabilityZone: ZONE, tags: {} });
    const complete = (LifecycleActionToken: string) =>
      autoScaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: "g",
          LifecycleHookName: "h",
          InstanceId: instanceId,
          LifecycleActionToken,
          LifecycleActionResult: "CONTINUE",
        }),
      );
    const refused = {
      name: "ValidationError",
      message: `No active Lifecycle Action found with instance ID ${instanceId}`,
    };
    await assert.rejects(complete("another-token"), refused);
    await complete(token);
    await assert.rejects(complete(token), refused);
    const { AutoScalingInstances } = await autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    assert.equal(AutoScalingInstances?.[0]?.LifecycleState, "InService");
  });

  /** Completes the open lifecycle action of `instanceId` with `result` through the SDK. */
  const complete = (event: { detail: Record<string, string> }, LifecycleActionResult: "CONTINUE" | "ABANDON") =>
    autoScaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: event.detail.AutoScalingGroupName,
        LifecycleHookName: event.detail.LifecycleHookName,
        InstanceId: event.detail.EC2InstanceId,
        LifecycleActionToken: event.detail.LifecycleActionToken,
        LifecycleActionResult,
      }),
    );
  const lifecycleState = async (InstanceId: string) =>
    (await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [InstanceId] })))
      .AutoScalingInstances?.[0]?.LifecycleState;

  it("holds an instance entering the warm pool in Warmed:Pending:Wait, then stops it there; it leaves the pool through Pending:Wait", async () => {
    const { instanceId, event } = world.launch({
      group: "g",
      hookName: "h",
      availabilityZone: ZONE,
      tags: {},
      into: "WarmPool",
    });
    assert.equal(await lifecycleState(instanceId), "Warmed:Pending:Wait");
    await complete(event, "CONTINUE");
    assert.equal(await lifecycleState(instanceId), "Warmed:Stopped");
    assert.equal(world.instance(instanceId).state, "stopped");
    const leaving = world.leaveWarmPool(instanceId, "h");
    assert.deepEqual([leaving.event.detail.Origin, leaving.event.detail.Destination], ["WarmPool", "AutoScalingGroup"]);
    assert.equal(await lifecycleState(instanceId), "Pending:Wait");
  });

  it("returns an instance to the warm pool on scale in through Warmed:Pending:Wait, keeping its ENI while stopped", async () => {
    const eni = world.addEni({ description: "d", availabilityZone: ZONE, privateIp: "10.0.1.10" });
    const instanceId = world.addInstance({ availabilityZone: ZONE, group: "g" });
    world.attachNow(eni, instanceId);
    const event = world.terminate(instanceId, "h", { to: "WarmPool" });
    assert.ok(event);
    assert.equal(await lifecycleState(instanceId), "Warmed:Pending:Wait");
    await complete(event, "CONTINUE");
    assert.equal(await lifecycleState(instanceId), "Warmed:Stopped");
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
  });

  it("retains an instance whose terminate action is abandoned under a Retain lifecycle policy, and terminates it otherwise", async () => {
    for (const [policy, expected] of [
      ["retain", "Terminating:Retained"],
      ["terminate", "Terminating:Proceed"],
    ] as const) {
      world = new FakeAws(world.timings, { terminateHookAbandon: policy });
      endpoint.world = world;
      const instanceId = world.addInstance({ availabilityZone: ZONE, group: "g" });
      const event = world.terminate(instanceId, "h");
      assert.ok(event);
      await complete(event, "ABANDON");
      assert.equal(await lifecycleState(instanceId), expected, policy);
      assert.equal(world.instance(instanceId).state, policy === "retain" ? "running" : "shutting-down");
    }
  });

  it("throttles with each service's own code", async () => {
    world.throttle("DescribeNetworkInterfaces", 1);
    world.throttle("DescribeAutoScalingInstances", 1);
    await assert.rejects(ec2.send(new DescribeNetworkInterfacesCommand({})), { name: "RequestLimitExceeded" });
    await assert.rejects(autoScaling.send(new DescribeAutoScalingInstancesCommand({})), { name: "Throttling" });
  });
});
