/**
 * The built attacher artifact, unpacked alone into a temp folder and run in its own Node process
 * with its bundled SDK, against the stateful fake served over the EC2 Query and Auto Scaling
 * protocols on 127.0.0.1 (AWS_ENDPOINT_URL), driven with the documented lifecycle event.
 * Every case checks the end state and that the action was completed exactly once, with the
 * event's token and the right result; the failure queue is a queue on fauxqs, reached through
 * AWS_ENDPOINT_URL_SQS (the SDK's service-specific endpoint variable), and every abandoned launch
 * must land there.
 */
import * as assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { buildArtifact, zipBytes } from "../../../components/core/artifact";
import { attacherEntry } from "../../../components/persistent-eni-asg";
import type { AttacherOutcome, FailureReport } from "../../../runtime/persistent-eni-asg/attacher";
import { ArtifactProcess } from "../../../testing/artifact-runner";
import { nodeBuild } from "../../harness/node-builds";
import { type Fauxqs, fauxqsClientConfig, useFauxqs } from "../../../testing/emulators";
import {
  attacherEnvironment,
  FakeAws,
  FakeAwsEndpoint,
  fakeAttacherOptions,
  PERSISTENT_ENI_ID,
  reportAfterAttach,
} from "../../harness/fakes/ec2-autoscaling";
import { receiveAll } from "../../../testing/queue-contents";

const GROUP = "web-group";
const HOOK = "web-attach-eni";
const ZONE = "us-east-1a";
const DESCRIPTION = "web persistent ENI";
const IP = "10.0.1.10";

describe("the built attacher artifact on the fake EC2 and Auto Scaling endpoint", () => {
  let endpoint: FakeAwsEndpoint;
  let attacher: ArtifactProcess;
  let world: FakeAws;
  let fauxqs: Fauxqs;
  let sqs: SQSClient;
  let failureQueueUrl: string;

  before(async () => {
    fauxqs = await useFauxqs();
    sqs = new SQSClient(fauxqsClientConfig(fauxqs));
    failureQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "web-failures" }))).QueueUrl ?? "";
    const artifact = await buildArtifact({
      owner: 'PersistentEniAsg "web"',
      host: "aws-lambda",
      entry: attacherEntry(fakeAttacherOptions(GROUP)),
      callbacks: { afterAttach: reportAfterAttach },
      nodeMajor: 22,
    });
    endpoint = await FakeAwsEndpoint.start(new FakeAws());
    attacher = await ArtifactProcess.start(
      zipBytes(artifact),
      "aws-lambda",
      {
        ...endpoint.env(),
        ...attacherEnvironment(failureQueueUrl),
        AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
      },
      nodeBuild,
    );
  });
  after(async () => {
    await attacher?.stop();
    await endpoint?.close();
    sqs?.destroy();
    await fauxqs?.stop();
  });
  beforeEach(async () => {
    world = new FakeAws();
    endpoint.world = world;
    await receiveAll(sqs, failureQueueUrl);
  });

  /** The outcomes the failure queue received, for the alarm on it. */
  async function reported(): Promise<AttacherOutcome[]> {
    const messages = await receiveAll(sqs, failureQueueUrl);
    return messages.map((message) => (JSON.parse(message.Body ?? "") as FailureReport).responsePayload);
  }

  /** The persistent ENI, optionally held by a group instance in `lifecycleState`, and a launching instance. */
  function scene(options: { held?: string; holdsUntilForced?: boolean; eniZone?: string } = {}) {
    const eni = world.addEni({
      networkInterfaceId: PERSISTENT_ENI_ID,
      description: DESCRIPTION,
      availabilityZone: options.eniZone ?? ZONE,
      privateIp: IP,
    });
    let holder: string | undefined;
    if (options.held) {
      holder = world.addInstance({
        availabilityZone: ZONE,
        group: GROUP,
        lifecycleState: options.held,
        tags: { Eth1: DESCRIPTION },
      });
      if (options.held.startsWith("Terminating")) world.terminate(holder);
      world.attachNow(eni, holder, { holdsUntilForced: options.holdsUntilForced });
    }
    return { eni, holder, ...launchInstance() };
  }

  /** Auto Scaling launches an instance tagged with the ENI's description into the group. */
  function launchInstance() {
    return world.launch({ group: GROUP, hookName: HOOK, availabilityZone: ZONE, tags: { Eth1: DESCRIPTION } });
  }

  async function run(event: unknown): Promise<AttacherOutcome> {
    const invocation = await attacher.invoke(event);
    assert.equal(invocation.error, undefined, `${JSON.stringify(invocation.error)}\n${invocation.logs.join("\n")}`);
    return invocation.result as AttacherOutcome;
  }

  /** Exactly one CompleteLifecycleAction reached the service for this instance, with `token` and `result`. */
  function assertCompletedOnce(instanceId: string, token: string, result: "CONTINUE" | "ABANDON"): void {
    assert.deepEqual(
      world.completions.filter((completion) => completion.instanceId === instanceId),
      [{ token, instanceId, hookName: HOOK, result, accepted: true }],
    );
  }

  it("attaches a free ENI at device index 1, runs afterAttach and continues", async () => {
    const { eni, instanceId, token, event } = scene();
    const outcome = await run(event);
    assert.deepEqual(outcome, { result: "CONTINUE", instanceId, networkInterfaceId: eni, privateIp: IP });
    assert.deepEqual(world.eni(eni), {
      status: "in-use",
      attachment: { instanceId, status: "attached", deviceIndex: 1 },
    });
    assert.deepEqual(world.afterAttachCalls, [{ instanceId, networkInterfaceId: eni, privateIp: IP }]);
    assert.equal(world.instance(instanceId).lifecycleState, "InService");
    assertCompletedOnce(instanceId, token, "CONTINUE");
  });

  it("skips a second delivery of the same event without attaching or completing again", async () => {
    const { eni, instanceId, token, event } = scene();
    await run(event);
    const second = await run(event);
    assert.equal(second.result, "SKIPPED");
    assert.match(second.reason ?? "", /is InService, not Pending:Wait/);
    assert.equal(world.callsOf("AttachNetworkInterface").length, 1);
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
    assertCompletedOnce(instanceId, token, "CONTINUE");
  });

  it("detaches the ENI from a terminating predecessor, waits until it is available, and attaches it", async () => {
    const { eni, holder, instanceId, token, event } = scene({ held: "Terminating" });
    const outcome = await run(event);
    assert.equal(outcome.result, "CONTINUE");
    assert.deepEqual(
      world.callsOf("DetachNetworkInterface").map((call) => call.input.Force),
      [false],
    );
    assert.equal(world.instance(holder as string).state, "shutting-down");
    assert.deepEqual(world.eni(eni).attachment, { instanceId, status: "attached", deviceIndex: 1 });
    assertCompletedOnce(instanceId, token, "CONTINUE");
  });

  it("forces the detach from a terminating predecessor that does not let go, heartbeating meanwhile", async () => {
    const { eni, instanceId, token, event } = scene({ held: "Terminating", holdsUntilForced: true });
    const outcome = await run(event);
    assert.equal(outcome.result, "CONTINUE");
    assert.deepEqual(
      world.callsOf("DetachNetworkInterface").map((call) => call.input.Force),
      [false, true],
    );
    assert.ok(world.heartbeats.length >= 1, "at least one heartbeat during the grace period");
    assert.ok(world.heartbeats.every((beat) => beat.token === token));
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
    assertCompletedOnce(instanceId, token, "CONTINUE");
  });

  it("never takes the ENI from a healthy instance in service, and abandons", async () => {
    const { eni, holder, instanceId, token, event } = scene({ held: "InService" });
    const outcome = await run(event);
    assert.equal(outcome.result, "ABANDON");
    assert.equal(
      outcome.reason,
      `EniError: network interface ${eni} is attached to ${holder}, which is InService in group "${GROUP}" (EC2 running); ` +
        "the persistent ENI is only taken from an instance out of service (terminating, detaching or in the warm pool), " +
        "never from one in service, in standby or retained. Terminate or detach that instance first.",
    );
    assert.equal(world.callsOf("DetachNetworkInterface").length, 0);
    assert.deepEqual(world.eni(eni).attachment, { instanceId: holder, status: "attached", deviceIndex: 1 });
    assert.equal(world.instance(instanceId).state, "shutting-down", "the abandoned instance is terminated");
    assertCompletedOnce(instanceId, token, "ABANDON");
    assert.deepEqual(await reported(), [outcome], "the abandoned launch reaches the failure queue and its alarm");
  });

  it("abandons when the persistent ENI no longer exists, and reports it to the failure queue", async () => {
    const { instanceId, token, event } = launchInstance();
    const outcome = await run(event);
    assert.equal(outcome.result, "ABANDON");
    assert.equal(
      outcome.reason,
      `EniError: network interface ${PERSISTENT_ENI_ID} does not exist; the persistent ENI must exist in this account and region.`,
    );
    assertCompletedOnce(instanceId, token, "ABANDON");
    assert.deepEqual(await reported(), [outcome]);
  });

  it("attaches the ENI with the id it is given while another ENI shares its description (a replacement being created)", async () => {
    const { eni, instanceId, token, event } = scene();
    world.addEni({ description: DESCRIPTION, availabilityZone: ZONE, privateIp: "10.0.1.11" });
    const outcome = await run(event);
    assert.equal(outcome.result, "CONTINUE", outcome.reason);
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
    assertCompletedOnce(instanceId, token, "CONTINUE");
    assert.deepEqual(await reported(), []);
  });

  it("abandons with the zones named when the instance is not in the ENI's Availability Zone", async () => {
    const { eni, instanceId, token, event } = scene({ eniZone: "us-east-1b" });
    const outcome = await run(event);
    assert.equal(outcome.result, "ABANDON");
    assert.equal(
      outcome.reason,
      `EniError: network interface ${eni} is in us-east-1b but instance ${instanceId} is in ${ZONE}; ` +
        "an ENI attaches only to instances of its own Availability Zone: pin the Auto Scaling group to the ENI's subnet.",
    );
    assert.equal(world.callsOf("AttachNetworkInterface").length, 0);
    assert.equal(world.eni(eni).status, "available");
    assertCompletedOnce(instanceId, token, "ABANDON");
    assert.deepEqual(await reported(), [outcome]);
  });

  it("rides out throttling of EC2 and Auto Scaling calls with the SDK's retries", async () => {
    const { eni, instanceId, token, event } = scene();
    world.throttle("DescribeNetworkInterfaces", 2);
    world.throttle("AttachNetworkInterface", 1);
    world.throttle("CompleteLifecycleAction", 1);
    const outcome = await run(event);
    assert.equal(outcome.result, "CONTINUE");
    const throttled = world.calls
      .filter((call) => call.error !== undefined)
      .map((call) => [call.operation, call.error]);
    assert.deepEqual(throttled, [
      ["DescribeNetworkInterfaces", "RequestLimitExceeded"],
      ["DescribeNetworkInterfaces", "RequestLimitExceeded"],
      ["AttachNetworkInterface", "RequestLimitExceeded"],
      ["CompleteLifecycleAction", "Throttling"],
    ]);
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
    assertCompletedOnce(instanceId, token, "CONTINUE");
  });

  it("abandons when EC2 refuses the attach, and leaves the ENI available", async () => {
    const { eni, instanceId, token, event } = scene();
    world.failNext(
      "AttachNetworkInterface",
      "UnauthorizedOperation",
      "You are not authorized to perform this operation.",
    );
    const outcome = await run(event);
    assert.equal(outcome.result, "ABANDON");
    assert.equal(
      outcome.reason,
      `EniError: attaching ${eni} to ${instanceId} failed: UnauthorizedOperation: You are not authorized to perform this operation.`,
    );
    assert.equal(world.eni(eni).status, "available");
    assertCompletedOnce(instanceId, token, "ABANDON");
  });

  it("abandons when the afterAttach callback fails", async () => {
    const { eni, instanceId, token, event } = scene();
    world.afterAttachFails = true;
    const outcome = await run(event);
    assert.equal(outcome.result, "ABANDON");
    assert.equal(outcome.reason, "afterAttach failed: the DNS update answered 500");
    assert.equal(world.afterAttachCalls.length, 1);
    assert.equal(
      world.instance(instanceId).state,
      "shutting-down",
      "the abandoned instance is terminated and releases the ENI",
    );
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
    assertCompletedOnce(instanceId, token, "ABANDON");
  });

  it("fails a malformed event, completing nothing, so Lambda retries it and then sends it to the failure queue", async () => {
    const invocation = await attacher.invoke({
      "detail-type": "EC2 Instance-launch Lifecycle Action",
      source: "aws.autoscaling",
      detail: {},
    });
    assert.deepEqual(invocation.error, {
      name: "MalformedEventError",
      message: "detail.LifecycleTransition is missing; a lifecycle action event carries it.",
    });
    assert.equal(world.callsOf("CompleteLifecycleAction").length, 0);
  });
});
