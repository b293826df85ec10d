/**
 * The attacher's runtime module in-process: its SDK clients are replaced by `aws-sdk-client-mock`
 * bound to the stateful fake, so timing-sensitive behaviours (deadline, heartbeats, concurrent
 * deliveries, a failed completion) run fast and exactly. The SDK's retry middleware does not run
 * under the mock: throttling is tested through the built artifact (artifact.test.ts).
 */
import * as assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { setTimeout } from "node:timers/promises";
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  AttachNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { SendMessageCommand, type SendMessageCommandInput, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import {
  type AttacherOutcome,
  createAttacher,
  type FailureReport,
  MalformedEventError,
  parseLifecycleEvent,
} from "../../../runtime/persistent-eni-asg/attacher";
import type { AfterAttach, AttacherOptions } from "../../../runtime/persistent-eni-asg/contract";
import { describeHolder, type EniContext } from "../../../runtime/persistent-eni-asg/eni";
import {
  attacherEnvironment,
  FakeAws,
  fakeAttacherOptions,
  type LifecycleEvent,
  lifecycleEvent,
  PERSISTENT_ENI_ID,
} from "../../harness/fakes/ec2-autoscaling";

const GROUP = "web-group";
const HOOK = "web-attach-eni";
const ZONE = "us-east-1a";
const DESCRIPTION = "web persistent ENI";
const FAILURE_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/web-failures";

/** The attacher's environment, as the component sets it on the function, for the duration of a test. */
function setAttacherEnvironment(): () => void {
  const environment = attacherEnvironment(FAILURE_QUEUE_URL);
  const before = Object.fromEntries(Object.keys(environment).map((name) => [name, process.env[name]]));
  Object.assign(process.env, environment);
  return () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** What the attacher sent to SQS, recorded; `failWith` makes every send fail with that error name. */
function bindFailureQueue(failWith?: string) {
  const sqs = mockClient(SQSClient);
  const sent: SendMessageCommandInput[] = [];
  sqs.on(SendMessageCommand).callsFake(async (input: SendMessageCommandInput) => {
    if (failWith) throw Object.assign(new Error("SQS is unavailable"), { name: failWith });
    sent.push(input);
    return { MessageId: `m-${sent.length}` };
  });
  return { sent, restore: () => sqs.restore() };
}

/** Routes every EC2 and Auto Scaling call made in this process to `world`, answering asynchronously as the SDK does. */
function bindToFake(world: FakeAws): () => void {
  const ec2 = mockClient(EC2Client);
  const autoScaling = mockClient(AutoScalingClient);
  ec2.on(DescribeInstancesCommand).callsFake(async (input) => world.describeInstances(input));
  ec2.on(DescribeNetworkInterfacesCommand).callsFake(async (input) => world.describeNetworkInterfaces(input));
  ec2.on(AttachNetworkInterfaceCommand).callsFake(async (input) => world.attachNetworkInterface(input));
  ec2.on(DetachNetworkInterfaceCommand).callsFake(async (input) => world.detachNetworkInterface(input));
  autoScaling
    .on(DescribeAutoScalingInstancesCommand)
    .callsFake(async (input) => world.describeAutoScalingInstances(input));
  autoScaling.on(CompleteLifecycleActionCommand).callsFake(async (input) => world.completeLifecycleAction(input));
  autoScaling
    .on(RecordLifecycleActionHeartbeatCommand)
    .callsFake(async (input) => world.recordLifecycleActionHeartbeat(input));
  return () => {
    ec2.restore();
    autoScaling.restore();
  };
}

function lambdaContext(remainingMs = 30_000) {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now() };
}

function attacher(options: Partial<AttacherOptions> = {}, afterAttach?: AfterAttach) {
  return createAttacher({ afterAttach }, fakeAttacherOptions(GROUP, options));
}

/** A launching instance and the ENI it should get; `held` puts the ENI on a group instance first. */
function scene(world: FakeAws, held?: { lifecycleState: string; holdsUntilForced?: boolean }) {
  const eni = world.addEni({
    networkInterfaceId: PERSISTENT_ENI_ID,
    description: DESCRIPTION,
    availabilityZone: ZONE,
    privateIp: "10.0.1.10",
  });
  let holder: string | undefined;
  if (held) {
    holder = world.addInstance({
      availabilityZone: ZONE,
      group: GROUP,
      lifecycleState: held.lifecycleState,
      tags: { Eth1: DESCRIPTION },
    });
    world.attachNow(eni, holder, { holdsUntilForced: held.holdsUntilForced });
  }
  const launched = world.launch({ group: GROUP, hookName: HOOK, availabilityZone: ZONE, tags: { Eth1: DESCRIPTION } });
  return { eni, holder, ...launched };
}

/** The results of the completions Auto Scaling accepted for the action with `token`. */
function acceptedResults(world: FakeAws, token: string): string[] {
  return world.completions
    .filter((completion) => completion.token === token && completion.accepted)
    .map((completion) => completion.result);
}

describe("parseLifecycleEvent", () => {
  const sample = lifecycleEvent("launch", GROUP, HOOK, "i-1234567890abcdef0", "87654321-4321-4321-4321-210987654321");

  it("reads the group, hook, token and instance of the documented launch event", () => {
    assert.deepEqual(parseLifecycleEvent(sample, GROUP), {
      kind: "launch",
      groupName: GROUP,
      hookName: HOOK,
      token: "87654321-4321-4321-4321-210987654321",
      instanceId: "i-1234567890abcdef0",
      origin: "EC2",
      destination: "AutoScalingGroup",
    });
  });

  it("reads an event without Origin and Destination, which are given only where known, as a launch into the group", () => {
    const { Origin: _origin, Destination: _destination, ...detail } = sample.detail;
    const action = parseLifecycleEvent({ ...sample, detail }, GROUP);
    assert.deepEqual([action.origin, action.destination], ["EC2", "AutoScalingGroup"]);
  });

  it("rejects a Destination that is none of EC2, AutoScalingGroup, WarmPool", () => {
    assert.throws(() => parseLifecycleEvent({ ...sample, detail: { ...sample.detail, Destination: "Moon" } }, GROUP), {
      name: "MalformedEventError",
      message: 'detail.Destination "Moon" is not one of EC2, AutoScalingGroup, WarmPool.',
    });
  });

  it("rejects an event that is not a lifecycle action", () => {
    assert.throws(() => parseLifecycleEvent({ ...sample, "detail-type": "EC2 Instance Launch Successful" }, GROUP), {
      name: "MalformedEventError",
      message:
        'detail-type "EC2 Instance Launch Successful" is not a lifecycle action; expected "EC2 Instance-launch Lifecycle Action" or "EC2 Instance-terminate Lifecycle Action".',
    });
  });

  it("rejects an event without a lifecycle action token", () => {
    const { LifecycleActionToken: _, ...detail } = sample.detail;
    assert.throws(() => parseLifecycleEvent({ ...sample, detail }, GROUP), {
      message: "detail.LifecycleActionToken is missing; a lifecycle action event carries it.",
    });
  });

  it("rejects an event of another group", () => {
    assert.throws(() => parseLifecycleEvent(sample, "other-group"), {
      message: `the event is for group "${GROUP}"; this function serves "other-group".`,
    });
  });
});

describe("the attacher in-process, on the fake through aws-sdk-client-mock", () => {
  let world: FakeAws;
  let unbind: () => void;
  let failureQueue: ReturnType<typeof bindFailureQueue>;
  let restoreEnvironment: () => void;
  beforeEach(() => {
    world = new FakeAws({ bootMs: 20, attachMs: 20, detachMs: 40, shutdownMs: 60_000 });
    unbind = bindToFake(world);
    failureQueue = bindFailureQueue();
    restoreEnvironment = setAttacherEnvironment();
    // The attacher's JSON log lines; the outcomes and the fake's records are what the tests check.
    for (const level of ["info", "warn", "error"] as const) mock.method(console, level, () => {});
  });
  afterEach(() => {
    unbind();
    failureQueue.restore();
    restoreEnvironment();
    mock.restoreAll();
  });

  /** The failure reports the attacher sent, each checked to be addressed to the failure queue. */
  function reports(): FailureReport[] {
    assert.ok(failureQueue.sent.every((input) => input.QueueUrl === FAILURE_QUEUE_URL));
    return failureQueue.sent.map((input) => JSON.parse(input.MessageBody ?? "") as FailureReport);
  }

  /** A group instance holding the ENI, in `lifecycleState`, with EC2 in `state`. */
  function holderOfEni(lifecycleState = "InService", state = "running") {
    const eni = world.addEni({
      networkInterfaceId: PERSISTENT_ENI_ID,
      description: DESCRIPTION,
      availabilityZone: ZONE,
      privateIp: "10.0.1.10",
    });
    const instanceId = world.addInstance({
      availabilityZone: ZONE,
      group: GROUP,
      lifecycleState,
      state,
      tags: { Eth1: DESCRIPTION },
    });
    world.attachNow(eni, instanceId);
    return { eni, instanceId };
  }

  /** Replaces this test's fake with `next` and routes the SDK clients to it. */
  function rebind(next: FakeAws): void {
    unbind();
    world = next;
    unbind = bindToFake(world);
  }

  it("fails a malformed event without completing anything, so Lambda retries it and then reports it", async () => {
    const event = { ...lifecycleEvent("launch", GROUP, HOOK, "i-1", "t"), detail: {} };
    await assert.rejects(attacher().handler(event, lambdaContext()), MalformedEventError);
    assert.equal(world.callsOf("CompleteLifecycleAction").length, 0);
  });

  it("records heartbeats with the event's token while it waits for a holder to let go", async () => {
    const { eni, token, instanceId, event } = scene(world, { lifecycleState: "Terminating", holdsUntilForced: true });
    const outcome = await attacher({ heartbeatIntervalMs: 50, forceDetachAfterMs: 300 }).handler(
      event,
      lambdaContext(),
    );
    assert.equal(outcome.result, "CONTINUE");
    assert.ok(world.heartbeats.length >= 3, `${world.heartbeats.length} heartbeats`);
    assert.ok(world.heartbeats.every((beat) => beat.token === token && beat.instanceId === instanceId));
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
  });

  it("forces the detach from a leaving holder only after the grace period", async () => {
    const { event } = scene(world, { lifecycleState: "Terminating", holdsUntilForced: true });
    const started = Date.now();
    await attacher({ forceDetachAfterMs: 300 }).handler(event, lambdaContext());
    const detaches = world.callsOf("DetachNetworkInterface").map((call) => call.input.Force);
    assert.deepEqual(detaches, [false, true]);
    assert.ok(Date.now() - started >= 300);
  });

  it("abandons when its deadline comes first, keeping the reserve to complete, and says what it waited for", async () => {
    rebind(new FakeAws({ bootMs: 20, attachMs: 20, detachMs: 60_000, shutdownMs: 60_000 }));
    const { token, holder, event } = scene(world, { lifecycleState: "Terminating:Wait" });
    const started = Date.now();
    const outcome = await attacher({ completionReserveMs: 500 }).handler(event, lambdaContext(1_500));
    assert.ok(Date.now() - started < 1_500, "completed before the function's time ran out");
    assert.equal(outcome.result, "ABANDON");
    assert.match(
      outcome.reason ?? "",
      new RegExp(`^gave up after \\d+ ms while waiting for ${holder} to release the network interface`),
    );
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
  });

  it("abandons when the afterAttach callback does not finish before the deadline", async () => {
    const { token, event } = scene(world);
    const never: AfterAttach = () => new Promise(() => {});
    const outcome = await attacher({ completionReserveMs: 500 }, never).handler(event, lambdaContext(1_500));
    assert.equal(outcome.result, "ABANDON");
    assert.match(outcome.reason ?? "", /^gave up after \d+ ms while running the afterAttach callback$/);
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
  });

  it("aborts the signal given to afterAttach at the deadline, so the callback can stop before changing anything", async () => {
    const { event } = scene(world);
    const signals: AbortSignal[] = [];
    const waitsForAbort: AfterAttach = (_input, signal) => {
      signals.push(signal);
      return new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    };
    const outcome = await attacher({ completionReserveMs: 500 }, waitsForAbort).handler(event, lambdaContext(1_500));
    assert.equal(outcome.result, "ABANDON");
    assert.equal(signals.length, 1);
    assert.equal(signals[0].aborted, true);
  });

  /** Two deliveries of the launch event at once, once the instance runs, so both try to attach the free ENI. */
  async function raceTwoDeliveries() {
    const launched = scene(world);
    await setTimeout(world.timings.bootMs + 10);
    const handler = attacher().handler;
    const outcomes = await Promise.all([
      handler(launched.event, lambdaContext()),
      handler(launched.event, lambdaContext()),
    ]);
    return { ...launched, outcomes };
  }

  // EC2 refuses an attach of an ENI in use with InvalidNetworkInterface.InUse and may answer
  // InvalidParameterValue instead (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
  for (const eniInUseError of ["InvalidNetworkInterface.InUse", "InvalidParameterValue"] as const) {
    it(`handles two simultaneous deliveries of one event with one attach and one accepted completion, when EC2 refuses the loser's attach with ${eniInUseError}`, async () => {
      rebind(new FakeAws(world.timings, { eniInUseError }));
      const { eni, token, instanceId, outcomes } = await raceTwoDeliveries();
      assert.deepEqual(
        world.callsOf("AttachNetworkInterface").map((call) => call.error ?? "ok"),
        ["ok", eniInUseError],
      );
      assert.deepEqual(
        outcomes.map((o) => o.result),
        ["CONTINUE", "CONTINUE"],
      );
      assert.deepEqual(world.eni(eni).attachment, { instanceId, status: "attached", deviceIndex: 1 });
      assert.deepEqual(acceptedResults(world, token), ["CONTINUE"]);
      assert.equal(world.instance(instanceId).lifecycleState, "InService");
    });
  }

  it("still abandons when the attach fails with InvalidParameterValue while the ENI stays free (e.g. device index 1 taken)", async () => {
    const { eni, token, instanceId, event } = scene(world);
    world.failNext(
      "AttachNetworkInterface",
      "InvalidParameterValue",
      `Instance '${instanceId}' already has an interface attached at device index '1'.`,
    );
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "ABANDON");
    assert.match(outcome.reason ?? "", /failed: InvalidParameterValue: Instance .* already has an interface attached/);
    assert.equal(world.eni(eni).status, "available");
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
  });

  it("continues an instance entering the warm pool without attaching: the launch hook holds it in Warmed:Pending:Wait and its default result would abandon it (warm-pool-instance-lifecycle)", async () => {
    const eni = world.addEni({
      networkInterfaceId: PERSISTENT_ENI_ID,
      description: DESCRIPTION,
      availabilityZone: ZONE,
      privateIp: "10.0.1.10",
    });
    const { instanceId, token, event } = world.launch({
      group: GROUP,
      hookName: HOOK,
      availabilityZone: ZONE,
      tags: { Eth1: DESCRIPTION },
      into: "WarmPool",
    });
    assert.deepEqual([event.detail.Origin, event.detail.Destination], ["EC2", "WarmPool"]);
    const outcome = await attacher().handler(event, lambdaContext());
    assert.deepEqual(outcome, { result: "CONTINUE", instanceId });
    assert.equal(world.callsOf("AttachNetworkInterface").length, 0);
    assert.equal(world.eni(eni).status, "available");
    assert.equal(world.instance(instanceId).lifecycleState, "Warmed:Stopped");
    assert.deepEqual(acceptedResults(world, token), ["CONTINUE"]);
  });

  it("attaches the ENI to an instance leaving the warm pool for the group, taking it from one parked in the pool", async () => {
    const { eni } = holderOfEni("Warmed:Stopped", "stopped");
    const spare = world.addInstance({
      availabilityZone: ZONE,
      group: GROUP,
      lifecycleState: "Warmed:Stopped",
      state: "stopped",
      tags: { Eth1: DESCRIPTION },
    });
    const { token, event } = world.leaveWarmPool(spare, HOOK);
    assert.deepEqual([event.detail.Origin, event.detail.Destination], ["WarmPool", "AutoScalingGroup"]);
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "CONTINUE", outcome.reason);
    assert.deepEqual(world.eni(eni).attachment, { instanceId: spare, status: "attached", deviceIndex: 1 });
    assert.equal(world.instance(spare).lifecycleState, "InService");
    assert.deepEqual(acceptedResults(world, token), ["CONTINUE"]);
  });

  it("fails the invocation when the completion itself fails, and the retried invocation completes", async () => {
    const { token, event } = scene(world);
    world.failNext("CompleteLifecycleAction", "ServiceUnavailable", "try later", 1, 503);
    const handler = attacher().handler;
    await assert.rejects(handler(event, lambdaContext()), { name: "ServiceUnavailable" });
    const retried = await handler(event, lambdaContext());
    assert.equal(retried.result, "CONTINUE");
    assert.deepEqual(acceptedResults(world, token), ["CONTINUE"]);
  });

  it("detaches the ENI from an instance in its terminate hook and lets the termination continue", async () => {
    const eni = world.addEni({
      networkInterfaceId: PERSISTENT_ENI_ID,
      description: DESCRIPTION,
      availabilityZone: ZONE,
      privateIp: "10.0.1.10",
    });
    const leaving = world.addInstance({ availabilityZone: ZONE, group: GROUP, tags: { Eth1: DESCRIPTION } });
    world.attachNow(eni, leaving);
    const event = world.terminate(leaving, "web-release-eni") as LifecycleEvent;
    const outcome: AttacherOutcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "CONTINUE");
    assert.equal(world.eni(eni).status, "available");
    assert.deepEqual(acceptedResults(world, event.detail.LifecycleActionToken), ["CONTINUE"]);
  });

  it("detaches the ENI from an instance returning to the warm pool on scale in, so the next instance in service gets it (Origin AutoScalingGroup, Destination WarmPool)", async () => {
    const { eni, instanceId } = holderOfEni();
    const event = world.terminate(instanceId, "web-release-eni", { to: "WarmPool" }) as LifecycleEvent;
    assert.deepEqual([event.detail.Origin, event.detail.Destination], ["AutoScalingGroup", "WarmPool"]);
    assert.equal(world.instance(instanceId).lifecycleState, "Warmed:Pending:Wait");
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "CONTINUE", outcome.reason);
    assert.equal(world.eni(eni).status, "available");
    assert.equal(world.instance(instanceId).lifecycleState, "Warmed:Stopped");
    assert.deepEqual(acceptedResults(world, event.detail.LifecycleActionToken), ["CONTINUE"]);
  });

  it("detaches the ENI from an instance terminated from the warm pool (Warmed:Terminating:Wait)", async () => {
    const { eni, instanceId } = holderOfEni("Warmed:Stopped", "stopped");
    const event = world.terminate(instanceId, "web-release-eni") as LifecycleEvent;
    assert.deepEqual([event.detail.Origin, event.detail.Destination], ["WarmPool", "EC2"]);
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "CONTINUE", outcome.reason);
    assert.equal(world.eni(eni).status, "available");
    assert.deepEqual(acceptedResults(world, event.detail.LifecycleActionToken), ["CONTINUE"]);
  });

  it("completes a terminate action with CONTINUE even when the detach fails: ABANDON would make a Retain lifecycle policy keep the instance and the ENI (instance-lifecycle-policy)", async () => {
    rebind(new FakeAws(world.timings, { terminateHookAbandon: "retain" }));
    const { eni, instanceId } = holderOfEni();
    const event = world.terminate(instanceId, "web-release-eni") as LifecycleEvent;
    world.failNext(
      "DetachNetworkInterface",
      "UnauthorizedOperation",
      "You are not authorized to perform this operation.",
    );
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "CONTINUE");
    assert.match(outcome.reason ?? "", /UnauthorizedOperation/);
    assert.deepEqual(acceptedResults(world, event.detail.LifecycleActionToken), ["CONTINUE"]);
    assert.equal(world.instance(instanceId).lifecycleState, "Terminating:Proceed", "terminated, not retained");
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId, "EC2 frees the ENI when the instance terminates");
    assert.deepEqual(
      reports().map((report) => [report.responsePayload.result, report.responsePayload.reason]),
      [["CONTINUE", outcome.reason]],
      "the release that did not happen reaches the failure queue",
    );
  });

  // A launch the attacher abandons returns normally, so Lambda's on-failure destination never sees
  // it (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html: only an
  // invocation that fails all its attempts is sent there); the attacher reports it itself.
  it("sends an abandoned launch (the ENI held by an instance in service) to the failure queue with the event and the reason, after completing with ABANDON", async () => {
    const { token, holder, instanceId, event } = scene(world, { lifecycleState: "InService" });
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "ABANDON");
    assert.match(outcome.reason ?? "", new RegExp(`is attached to ${holder}, which is InService`));
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
    const [report, ...others] = reports();
    assert.deepEqual(others, []);
    assert.equal(report.condition, "ActionFailed");
    assert.deepEqual(report.requestPayload, event);
    assert.deepEqual(report.responsePayload, outcome);
    assert.equal(report.responsePayload.instanceId, instanceId);
  });

  it("sends an abandoned launch into the wrong Availability Zone to the failure queue", async () => {
    world.addEni({
      networkInterfaceId: PERSISTENT_ENI_ID,
      description: DESCRIPTION,
      availabilityZone: "us-east-1b",
      privateIp: "10.0.1.10",
    });
    const { token, event } = world.launch({
      group: GROUP,
      hookName: HOOK,
      availabilityZone: ZONE,
      tags: { Eth1: DESCRIPTION },
    });
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "ABANDON");
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
    assert.deepEqual(
      reports().map((report) => report.responsePayload.reason),
      [outcome.reason],
    );
  });

  it("sends nothing to the failure queue for a launch that succeeds, nor for its duplicate delivery", async () => {
    const { event } = scene(world);
    const handler = attacher().handler;
    assert.equal((await handler(event, lambdaContext())).result, "CONTINUE");
    assert.equal((await handler(event, lambdaContext())).result, "SKIPPED");
    assert.deepEqual(failureQueue.sent, []);
  });

  it("fails the invocation when the failure report cannot be sent, once the launch is abandoned", async () => {
    failureQueue.restore();
    failureQueue = bindFailureQueue("ServiceUnavailable");
    const { token, event } = scene(world, { lifecycleState: "InService" });
    await assert.rejects(attacher().handler(event, lambdaContext()), { name: "ServiceUnavailable" });
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
  });

  it("describes the ENI by the id it is given in an account with many network interfaces, where a lookup by description alone fails unpaginated (API_DescribeNetworkInterfaces)", async () => {
    rebind(new FakeAws(world.timings, { largeAccountEnis: 5_000 }));
    const { eni, token, instanceId, event } = scene(world);
    // Another ENI with the same description (a replacement being created) does not matter: the id decides.
    world.addEni({ description: DESCRIPTION, availabilityZone: ZONE, privateIp: "10.0.1.11" });
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "CONTINUE", outcome.reason);
    assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
    assert.deepEqual(acceptedResults(world, token), ["CONTINUE"]);
    const lookups = world.callsOf("DescribeNetworkInterfaces");
    assert.ok(lookups.length > 0);
    assert.ok(
      lookups.every((call) => call.error === undefined),
      JSON.stringify(lookups),
    );
  });

  it("abandons, naming the id, when the persistent ENI no longer exists", async () => {
    const { token, event } = world.launch({
      group: GROUP,
      hookName: HOOK,
      availabilityZone: ZONE,
      tags: { Eth1: DESCRIPTION },
    });
    const outcome = await attacher().handler(event, lambdaContext());
    assert.equal(outcome.result, "ABANDON");
    assert.equal(
      outcome.reason,
      `EniError: network interface ${PERSISTENT_ENI_ID} does not exist; the persistent ENI must exist in this account and region.`,
    );
    assert.deepEqual(acceptedResults(world, token), ["ABANDON"]);
  });
});

describe("describeHolder", () => {
  let world: FakeAws;
  let unbind: () => void;
  beforeEach(() => {
    world = new FakeAws();
    unbind = bindToFake(world);
  });
  afterEach(() => unbind());

  const context = (): EniContext => ({
    ec2: new EC2Client({ region: "us-east-1" }),
    autoScaling: new AutoScalingClient({ region: "us-east-1" }),
    signal: new AbortController().signal,
    pollIntervalMs: 10,
    forceDetachAfterMs: 100,
    step() {},
  });

  /** Whether describeHolder counts a group instance in each lifecycle state as out of service. */
  async function outOfService(lifecycleStates: string[]): Promise<Record<string, boolean>> {
    const verdicts: Record<string, boolean> = {};
    for (const lifecycleState of lifecycleStates) {
      const instanceId = world.addInstance({ availabilityZone: ZONE, group: GROUP, lifecycleState });
      verdicts[lifecycleState] = (await describeHolder(context(), instanceId)).outOfService;
    }
    return verdicts;
  }
  const all = (states: string[], verdict: boolean) => Object.fromEntries(states.map((state) => [state, verdict]));

  it("counts an instance as out of service when it terminates or is detaching", async () => {
    const states = ["Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated", "Detaching", "Detached"];
    assert.deepEqual(await outOfService(states), all(states, true));
  });

  it("counts an instance entering, returning to, parked in or terminating from the warm pool as out of service: the pool serves no traffic (warm-pool-instance-lifecycle)", async () => {
    const states = [
      "Warmed:Pending",
      "Warmed:Pending:Wait",
      "Warmed:Pending:Proceed",
      "Warmed:Stopped",
      "Warmed:Running",
      "Warmed:Hibernated",
      "Warmed:Terminating",
      "Warmed:Terminating:Wait",
      "Warmed:Terminating:Proceed",
      "Warmed:Terminated",
    ];
    assert.deepEqual(await outOfService(states), all(states, true));
  });

  it("never counts a retained instance as out of service: an instance lifecycle policy keeps it for manual intervention (manage-retained-instances)", async () => {
    const states = ["Terminating:Retained", "Warmed:Pending:Retained", "Warmed:Terminating:Retained"];
    assert.deepEqual(await outOfService(states), all(states, false));
  });

  it("counts an instance as out of service when EC2 shuts it down, even outside any group", async () => {
    const instanceId = world.addInstance({ availabilityZone: ZONE, state: "shutting-down" });
    assert.deepEqual(await describeHolder(context(), instanceId), {
      instanceId,
      outOfService: true,
      summary: "in no Auto Scaling group (EC2 shutting-down)",
    });
  });

  it("never counts an instance in service, in standby, launching, replacing its root volume, or outside any group as out of service", async () => {
    const states = [
      "InService",
      "Standby",
      "EnteringStandby",
      "Pending",
      "Pending:Wait",
      "Pending:Proceed",
      "ReplacingRootVolume",
      "ReplacingRootVolume:Wait",
      "RootVolumeReplaced",
    ];
    assert.deepEqual(await outOfService(states), all(states, false));
    const loner = world.addInstance({ availabilityZone: ZONE });
    assert.equal((await describeHolder(context(), loner)).outOfService, false);
  });
});
