/**
 * The PersistentEniAsg Lambda: an Auto Scaling lifecycle event in, the persistent ENI on the
 * instance, the lifecycle action completed.
 *
 * Launch into the group (`EC2 Instance-launch Lifecycle Action`, Destination `AutoScalingGroup`,
 * from EC2 or from the warm pool): describe the persistent ENI by its id (in the function's
 * environment), attach it at device index 1 (taking it from a holder out of service, never from one
 * in service), run the optional `afterAttach` callback, then complete with CONTINUE.
 * Launch into the warm pool (Destination `WarmPool`): the launch hook holds these instances too
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html); a
 * pooled instance serves nobody, so it gets the ENI only when it leaves the pool for the group:
 * complete with CONTINUE, or its default result (ABANDON) would terminate it.
 * Terminate (`EC2 Instance-terminate Lifecycle Action`, optional hook; terminated from the group or
 * from the warm pool, or returned to the warm pool on scale in): detach the ENI early so the next
 * instance in service gets it sooner, then complete with CONTINUE.
 *
 * The lifecycle action is completed exactly once with the event's token: CONTINUE on success. On a
 * failure a launch into the group completes with ABANDON (an instance without its ENI must never
 * enter service); any other action still completes with CONTINUE: for a terminate, ABANDON would
 * make an instance lifecycle policy that retains keep the instance, ENI and all, in
 * `Terminating:Retained` (https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-lifecycle-policy.html). All work
 * runs against a deadline that leaves `completionReserveMs` of the function's time for the
 * completion; heartbeats keep the hook alive while it waits. An event whose action is no longer
 * waiting (a duplicate delivery, a retry after success) is skipped without a second completion.
 * Throttling and transient errors are retried by the SDK's standard retry strategy.
 *
 * A failed action (an abandoned launch, a release that did not happen) is sent, with the event and
 * the reason, to the failure queue once the action is completed, so the queue's alarm goes off:
 * otherwise a group that abandons every launch would go on launching and abandoning with only a log
 * line. Only a malformed event, a failed completion or a failed report makes the invocation fail:
 * Lambda retries it, then sends it to the function's on-failure destination (the same queue) with
 * the reason; the hook's default result (ABANDON) covers an action nobody completed.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  attachToInstance,
  describeEni,
  describeInstance,
  type EniContext,
  EniError,
  errorCode,
  errorText,
  releaseFromInstance,
  waitUntilRunning,
} from "./eni";
import {
  type AfterAttach,
  type AttacherOptions,
  FAILURE_QUEUE_URL_ENV,
  LAUNCH_DETAIL_TYPE,
  LAUNCHING,
  PERSISTENT_ENI_ID_ENV,
  TERMINATE_DETAIL_TYPE,
  TERMINATING,
} from "./contract";
import { logEvent as log } from "../shared/lambda-log";

/** What the function reads from its environment. */
export interface DeployedResources {
  networkInterfaceId: string;
  failureQueueUrl: string;
}

/** The deployed resources from the environment; a missing one is a deployment error, named. */
export function deployedResources(env: NodeJS.ProcessEnv = process.env): DeployedResources {
  const read = (name: string): string => {
    const value = env[name];
    if (!value)
      throw new Error(`PersistentEniAsg attacher: ${name} is not set; the component sets it on the function.`);
    return value;
  };
  return { networkInterfaceId: read(PERSISTENT_ENI_ID_ENV), failureQueueUrl: read(FAILURE_QUEUE_URL_ENV) };
}

/**
 * What the attacher sends to the failure queue for an action it completed as failed: the event as
 * received (`requestPayload`, as Lambda's on-failure destination names it in its records) and the
 * outcome with its reason (`responsePayload`), so one reader handles both kinds of message.
 */
export interface FailureReport {
  condition: "ActionFailed";
  timestamp: string;
  requestPayload: unknown;
  responsePayload: AttacherOutcome;
}

const TRANSITIONS: Record<string, string> = {
  [LAUNCH_DETAIL_TYPE]: LAUNCHING,
  [TERMINATE_DETAIL_TYPE]: TERMINATING,
};

/** Where an instance comes from and goes to, as lifecycle events name them. */
export type Place = "EC2" | "AutoScalingGroup" | "WarmPool";
const PLACES: readonly Place[] = ["EC2", "AutoScalingGroup", "WarmPool"];

/** An open lifecycle action, from the event's `detail`. */
export interface LifecycleAction {
  kind: "launch" | "terminate";
  groupName: string;
  hookName: string;
  token: string;
  instanceId: string;
  /** `detail.Origin`; where the event has none, EC2 for a launch and the group for a terminate. */
  origin: Place;
  /** `detail.Destination`; where the event has none, the group for a launch and EC2 for a terminate. */
  destination: Place;
}

export type LifecycleResult = "CONTINUE" | "ABANDON";

export interface AttacherOutcome {
  /** SKIPPED: the action was no longer waiting, so nothing was done or completed. */
  result: LifecycleResult | "SKIPPED";
  instanceId: string;
  networkInterfaceId?: string;
  privateIp?: string;
  /** Why the action was abandoned or skipped. */
  reason?: string;
}

/** The event cannot be a lifecycle action of this group; nothing can be completed for it. */
export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedEventError";
  }
}

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export interface Clients {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  sqs: SQSClient;
}

/** Reads the lifecycle action out of an EventBridge event; throws `MalformedEventError` with the reason. */
export function parseLifecycleEvent(event: unknown, groupName: string): LifecycleAction {
  const envelope = (event ?? {}) as { "detail-type"?: unknown; detail?: Record<string, unknown> };
  const detailType = envelope["detail-type"];
  if (typeof detailType !== "string" || !(detailType in TRANSITIONS)) {
    throw new MalformedEventError(
      `detail-type ${JSON.stringify(detailType)} is not a lifecycle action; expected "${LAUNCH_DETAIL_TYPE}" or "${TERMINATE_DETAIL_TYPE}".`,
    );
  }
  const detail = envelope.detail ?? {};
  const field = (name: string): string => {
    const value = detail[name];
    if (typeof value !== "string" || value === "") {
      throw new MalformedEventError(
        `detail.${name} is ${JSON.stringify(value) ?? "missing"}; a lifecycle action event carries it.`,
      );
    }
    return value;
  };
  // Origin and Destination are given "if that information is available"
  // (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html).
  const place = (name: string, otherwise: Place): Place => {
    const value = detail[name];
    if (value === undefined) return otherwise;
    if (!PLACES.includes(value as Place)) {
      throw new MalformedEventError(`detail.${name} ${JSON.stringify(value)} is not one of ${PLACES.join(", ")}.`);
    }
    return value as Place;
  };
  const transition = field("LifecycleTransition");
  if (transition !== TRANSITIONS[detailType]) {
    throw new MalformedEventError(
      `detail.LifecycleTransition ${JSON.stringify(transition)} does not match "${detailType}".`,
    );
  }
  const launch = detailType === LAUNCH_DETAIL_TYPE;
  const action: LifecycleAction = {
    kind: launch ? "launch" : "terminate",
    groupName: field("AutoScalingGroupName"),
    hookName: field("LifecycleHookName"),
    token: field("LifecycleActionToken"),
    instanceId: field("EC2InstanceId"),
    origin: place("Origin", launch ? "EC2" : "AutoScalingGroup"),
    destination: place("Destination", launch ? "AutoScalingGroup" : "EC2"),
  };
  if (action.groupName !== groupName) {
    throw new MalformedEventError(
      `the event is for group ${JSON.stringify(action.groupName)}; this function serves ${JSON.stringify(groupName)}.`,
    );
  }
  return action;
}

/** The Lambda factory the artifact starts: `{ handler }`. */
export function createAttacher(
  callbacks: { afterAttach?: AfterAttach },
  options: AttacherOptions,
): { handler: (event: unknown, context: LambdaContext) => Promise<AttacherOutcome> } {
  let clients: Clients | undefined;
  const sdk = (): Clients =>
    (clients ??= {
      ec2: new EC2Client({ maxAttempts: options.maxAttempts, retryMode: "standard" }),
      autoScaling: new AutoScalingClient({ maxAttempts: options.maxAttempts, retryMode: "standard" }),
      sqs: new SQSClient({ maxAttempts: options.maxAttempts, retryMode: "standard" }),
    });
  return {
    handler: async (event, context) => {
      let action: LifecycleAction;
      try {
        action = parseLifecycleEvent(event, options.autoScalingGroupName);
      } catch (error) {
        log("error", "rejected event", { reason: errorText(error) });
        throw error;
      }
      const deployed = deployedResources();
      const outcome = await handleLifecycleAction(action, deployed, sdk(), callbacks, options, context);
      if (failed(outcome)) {
        await reportFailure(sdk().sqs, deployed.failureQueueUrl, event, outcome);
      }
      return outcome;
    },
  };
}

/** Does the work against a deadline, then completes the action exactly once (unless it was no longer waiting). */
async function handleLifecycleAction(
  action: LifecycleAction,
  deployed: DeployedResources,
  clients: Clients,
  callbacks: { afterAttach?: AfterAttach },
  options: AttacherOptions,
  context: LambdaContext,
): Promise<AttacherOutcome> {
  const budgetMs = Math.max(0, context.getRemainingTimeInMillis() - options.completionReserveMs);
  const deadline = AbortSignal.timeout(budgetMs);
  const fields = {
    instanceId: action.instanceId,
    kind: action.kind,
    group: action.groupName,
    from: action.origin,
    to: action.destination,
  };
  let lastStep = "starting";
  const ctx: EniContext = {
    ...clients,
    signal: deadline,
    pollIntervalMs: options.pollIntervalMs,
    forceDetachAfterMs: options.forceDetachAfterMs,
    step(message, extra) {
      lastStep = message;
      log("info", message, { ...fields, ...extra });
    },
  };
  const heartbeat = startHeartbeat(clients.autoScaling, action, options.heartbeatIntervalMs);
  let outcome: AttacherOutcome;
  try {
    outcome = await untilAborted(perform(ctx, action, deployed.networkInterfaceId, callbacks), deadline);
  } catch (error) {
    const reason = deadline.aborted ? `gave up after ${budgetMs} ms while ${lastStep}` : errorText(error);
    outcome = { result: failureResult(action), instanceId: action.instanceId, reason };
  } finally {
    await heartbeat.stop();
  }
  if (outcome.result !== "SKIPPED") {
    await complete(clients.autoScaling, action, outcome.result, options.completionReserveMs);
  }
  log(failed(outcome) ? "error" : "info", `lifecycle action ${outcome.result}`, { ...fields, ...outcome });
  return outcome;
}

async function perform(
  ctx: EniContext,
  action: LifecycleAction,
  networkInterfaceId: string,
  callbacks: { afterAttach?: AfterAttach },
): Promise<AttacherOutcome> {
  const { instanceId } = action;
  const waiting = await stillWaiting(ctx, action);
  if (!waiting.ok) return { result: "SKIPPED", instanceId, reason: waiting.reason };
  if (action.kind === "launch" && action.destination === "WarmPool") {
    ctx.step(`instance ${instanceId} enters the warm pool; it gets the ENI when it leaves the pool for the group`);
    return { result: "CONTINUE", instanceId };
  }

  const instance =
    action.kind === "launch" ? await waitUntilRunning(ctx, instanceId) : await describeInstance(ctx, instanceId);
  if (!instance) throw new EniError(`instance ${instanceId} does not exist.`);
  const eni = await describeEni(ctx, networkInterfaceId);

  if (action.kind === "terminate") {
    await releaseFromInstance(ctx, instanceId, eni);
    return { result: "CONTINUE", instanceId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIp };
  }
  const attached = await attachToInstance(ctx, instance, eni);
  const result = { instanceId, networkInterfaceId: attached.networkInterfaceId, privateIp: attached.privateIp };
  ctx.step(`attached ${attached.networkInterfaceId} (${attached.privateIp}) to ${instanceId}`);
  if (callbacks.afterAttach) {
    // The deadline may have passed while attaching: the action is being abandoned, so the callback
    // must not e.g. point DNS at this instance; and a result it returns after the deadline is void.
    ctx.signal.throwIfAborted();
    ctx.step("running the afterAttach callback");
    try {
      await callbacks.afterAttach(result, ctx.signal);
    } catch (error) {
      ctx.signal.throwIfAborted();
      throw new Error(`afterAttach failed: ${errorText(error)}`);
    }
    ctx.signal.throwIfAborted();
  }
  return { result: "CONTINUE", ...result };
}

/** Whether the action was completed as failed: a skipped action had a reason, but nothing failed. */
function failed(outcome: AttacherOutcome): boolean {
  return outcome.reason !== undefined && outcome.result !== "SKIPPED";
}

/**
 * The result for an action whose work failed: only an instance entering service without the ENI is
 * abandoned. For any other action ABANDON gains nothing and, for a terminate, would make an
 * instance lifecycle policy that retains keep the instance with the ENI.
 */
function failureResult(action: LifecycleAction): LifecycleResult {
  return action.kind === "launch" && action.destination === "AutoScalingGroup" ? "ABANDON" : "CONTINUE";
}

/**
 * The lifecycle state an instance waits in for this action
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
 */
export function waitState(action: Pick<LifecycleAction, "kind" | "origin" | "destination">): string {
  if (action.destination === "WarmPool") return "Warmed:Pending:Wait";
  if (action.kind === "launch") return "Pending:Wait";
  return action.origin === "WarmPool" ? "Warmed:Terminating:Wait" : "Terminating:Wait";
}

/**
 * Whether the instance still waits in this hook ({@link waitState}). A duplicate or retried event
 * finds it past that state: completing again would fail, and acting again could disturb an
 * instance in service. An instance Auto Scaling does not list yet counts as waiting.
 */
async function stillWaiting(
  ctx: EniContext,
  action: LifecycleAction,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const output = await ctx.autoScaling.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [action.instanceId] }),
    { abortSignal: ctx.signal },
  );
  const state = output.AutoScalingInstances?.[0]?.LifecycleState;
  const expected = waitState(action);
  if (state === undefined || state === expected) return { ok: true };
  return {
    ok: false,
    reason: `instance ${action.instanceId} is ${state}, not ${expected}: the action was already completed or timed out.`,
  };
}

/** What names one lifecycle action in the Auto Scaling API. */
function actionIdentity(action: LifecycleAction) {
  return {
    AutoScalingGroupName: action.groupName,
    LifecycleHookName: action.hookName,
    LifecycleActionToken: action.token,
    InstanceId: action.instanceId,
  };
}

/** Completes the action; a "no active lifecycle action" answer means another invocation already did. */
async function complete(
  autoScaling: AutoScalingClient,
  action: LifecycleAction,
  result: LifecycleResult,
  timeoutMs: number,
): Promise<void> {
  try {
    await autoScaling.send(
      new CompleteLifecycleActionCommand({ ...actionIdentity(action), LifecycleActionResult: result }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
  } catch (error) {
    if (isNoActiveAction(error)) {
      log("warn", "lifecycle action was already completed", {
        instanceId: action.instanceId,
        reason: errorText(error),
      });
      return;
    }
    log("error", "completing the lifecycle action failed", {
      instanceId: action.instanceId,
      result,
      reason: errorText(error),
    });
    throw error;
  }
}

/**
 * Sends a failed action's event and reason to the failure queue, whose alarm goes off on any message.
 * A failed send fails the invocation: the action is completed, so Lambda's retries find it no longer
 * waiting, and the error stays in the function's logs and Errors metric.
 */
async function reportFailure(
  sqs: SQSClient,
  queueUrl: string,
  event: unknown,
  outcome: AttacherOutcome,
): Promise<void> {
  const report: FailureReport = {
    condition: "ActionFailed",
    timestamp: new Date().toISOString(),
    requestPayload: event,
    responsePayload: outcome,
  };
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(report) }));
  } catch (error) {
    log("error", "reporting the failed action to the failure queue failed", {
      instanceId: outcome.instanceId,
      reason: errorText(error),
    });
    throw error;
  }
}

function isNoActiveAction(error: unknown): boolean {
  return errorCode(error) === "ValidationError" && /No active Lifecycle Action found/i.test((error as Error).message);
}

/** Records a heartbeat every `intervalMs` until stopped, so a long wait does not time the hook out. */
function startHeartbeat(
  autoScaling: AutoScalingClient,
  action: LifecycleAction,
  intervalMs: number,
): { stop(): Promise<void> } {
  const stopped = new AbortController();
  let inFlight: Promise<void> = Promise.resolve();
  const beat = async () => {
    try {
      await autoScaling.send(new RecordLifecycleActionHeartbeatCommand(actionIdentity(action)), {
        abortSignal: stopped.signal,
      });
      log("info", "heartbeat recorded", { instanceId: action.instanceId });
    } catch (error) {
      // The completion at the end decides; a missed heartbeat only shortens the hook's patience.
      if (!stopped.signal.aborted)
        log("warn", "heartbeat failed", { instanceId: action.instanceId, reason: errorText(error) });
    }
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(beat);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      stopped.abort();
      await inFlight;
    },
  };
}

/** Settles with `work`, or rejects when `signal` aborts first (work that ignores the signal, e.g. a callback). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
