/**
 * The fake EC2 and Auto Scaling that PersistentEniAsg's attacher tests and `npm start` scenario run on.
 *
 * No EC2 or Auto Scaling emulator exists, so `FakeAws` keeps the state the attacher reads and
 * changes, and follows the services' documented rules:
 * - instances go pending -> running, and shutting-down -> terminated; at termination a secondary
 *   ENI attached through the API (DeleteOnTermination false) is detached and becomes available;
 * - an ENI attaches only while it has no attachment, to a running or stopped instance of its own
 *   Availability Zone, at a device index that is free; an ENI in use is refused with
 *   `InvalidNetworkInterface.InUse` or, as EC2 documents it may answer instead, `InvalidParameterValue`
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; `eniInUseError`);
 *   the attachment goes attaching -> attached; a detach goes detaching -> gone; an instance can be
 *   made to hold on until the detach is forced; the primary interface (index 0) cannot be detached;
 *   a stopped instance keeps its attachments;
 * - a launching instance waits in `Pending:Wait` with a lifecycle action token; the action accepts
 *   heartbeats and exactly one completion with its token (`ValidationError: No active Lifecycle
 *   Action found...` otherwise); CONTINUE puts it InService, ABANDON terminates it;
 * - with a warm pool, the launch hook also holds an instance entering the pool (`Warmed:Pending:Wait`,
 *   then stopped in `Warmed:Stopped`) and one leaving it for the group (`Pending:Wait`); the
 *   terminate hook holds an instance returning to the pool on scale in (`Warmed:Pending:Wait`) and
 *   one terminated from the pool (`Warmed:Terminating:Wait`); events carry Origin and Destination
 *   (EC2 | AutoScalingGroup | WarmPool) as the documented samples do
 *   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html,
 *   https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html);
 * - with an instance lifecycle policy that retains (`terminateHookAbandon: "retain"`), an abandoned
 *   terminate action leaves the instance running in `Terminating:Retained` (or the warm pool's
 *   `Warmed:*:Retained`) instead of terminating it
 *   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/manage-retained-instances.html);
 * - in an account with many network interfaces (`largeAccountEnis`), DescribeNetworkInterfaces fails
 *   unless it is paginated (MaxResults) or filtered by group-id, mac-address, private-dns-name,
 *   private-ip-address, subnet-id or vpc-id
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html; the
 *   page names no error code, so the code and text are this fake's); a call naming ids lists those
 *   ENIs and may not be paginated too (`InvalidParameterCombination`,
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html#api-pagination);
 * - any call can be made to fail or be throttled (`RequestLimitExceeded` / `Throttling`) N times.
 *
 * `query-server.ts` serves it over HTTP for artifacts; `callbacks.ts` holds the attacher options
 * and the `afterAttach` callback the tests run on it.
 */
import { randomUUID } from "node:crypto";
import type {
  AutoScalingInstanceDetails,
  AutoScalingInstancesType,
  CompleteLifecycleActionType,
  DescribeAutoScalingInstancesType,
  RecordLifecycleActionHeartbeatType,
} from "@aws-sdk/client-auto-scaling";
import type {
  AttachNetworkInterfaceRequest,
  AttachNetworkInterfaceResult,
  DescribeInstancesRequest,
  DescribeInstancesResult,
  DescribeNetworkInterfacesRequest,
  DescribeNetworkInterfacesResult,
  DetachNetworkInterfaceRequest,
  Instance,
  NetworkInterface,
} from "@aws-sdk/client-ec2";
import type { Place } from "../../../../runtime/persistent-eni-asg/attacher";
import type { AfterAttachInput } from "../../../../runtime/persistent-eni-asg/contract";

export const FAKE_ACCOUNT = "123456789012";
export const FAKE_REGION = "us-east-1";

/** How long the fake's state changes take. */
export interface FakeTimings {
  /** pending -> running */
  bootMs: number;
  /** attaching -> attached */
  attachMs: number;
  /** detaching -> detached (once the holder lets go) */
  detachMs: number;
  /** shutting-down -> terminated */
  shutdownMs: number;
}

export const FAST_TIMINGS: FakeTimings = { bootMs: 60, attachMs: 40, detachMs: 80, shutdownMs: 60_000 };

/** Which of its documented answers the fake gives where the services allow more than one. */
export interface FakeBehaviour {
  /** The error code of an attach refused because the ENI is in use. @default "InvalidNetworkInterface.InUse" */
  eniInUseError?: "InvalidNetworkInterface.InUse" | "InvalidParameterValue";
  /** The group's instance lifecycle policy for an abandoned terminate action. @default "terminate" */
  terminateHookAbandon?: "terminate" | "retain";
  /**
   * How many network interfaces the account holds besides those the test adds: from 1, the account
   * counts as one with many, where an unpaginated DescribeNetworkInterfaces needs a documented filter.
   * @default 0
   */
  largeAccountEnis?: number;
}

/** The filters EC2 documents as enough for an unpaginated DescribeNetworkInterfaces in a large account. */
const LARGE_ACCOUNT_FILTERS = new Set([
  "group-id",
  "mac-address",
  "private-dns-name",
  "private-ip-address",
  "subnet-id",
  "vpc-id",
]);

export type Operation =
  | "DescribeInstances"
  | "DescribeNetworkInterfaces"
  | "AttachNetworkInterface"
  | "DetachNetworkInterface"
  | "DescribeAutoScalingInstances"
  | "CompleteLifecycleAction"
  | "RecordLifecycleActionHeartbeat";

const AUTO_SCALING_OPERATIONS = new Set<Operation>([
  "DescribeAutoScalingInstances",
  "CompleteLifecycleAction",
  "RecordLifecycleActionHeartbeat",
]);

/** A service error as the SDK sees it: `name` is the error code. */
export class FakeAwsError extends Error {
  readonly $fault: "client" | "server";
  readonly $metadata: { httpStatusCode: number };

  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
    this.$fault = status >= 500 ? "server" : "client";
    this.$metadata = { httpStatusCode: status };
  }
}

interface FakeInstance {
  instanceId: string;
  availabilityZone: string;
  state: string;
  /** When the current pending / shutting-down state ends. */
  stateEndsAt?: number;
  tags: Record<string, string>;
  group?: { name: string; lifecycleState: string; healthy: boolean };
}

interface FakeAttachment {
  attachmentId: string;
  instanceId: string;
  deviceIndex: number;
  status: "attaching" | "attached" | "detaching";
  /** When attaching/detaching finishes; undefined while the holder does not let go. */
  settlesAt?: number;
  /** The holder only lets go of a forced detach. */
  holdsUntilForced: boolean;
}

interface FakeEni {
  networkInterfaceId: string;
  description: string;
  availabilityZone: string;
  subnetId: string;
  privateIp: string;
  attachment?: FakeAttachment;
}

interface LifecycleAction {
  token: string;
  groupName: string;
  hookName: string;
  instanceId: string;
  kind: "launch" | "terminate";
  destination: Place;
}

export interface CompletionRecord {
  token: string;
  instanceId: string;
  hookName: string;
  result: string;
  accepted: boolean;
}

export interface CallRecord {
  operation: Operation;
  input: Record<string, unknown>;
  /** The error code the call was answered with. */
  error?: string;
}

/** An EC2 Auto Scaling lifecycle action event, in the shape of the AWS documentation's sample. */
export interface LifecycleEvent {
  version: "0";
  id: string;
  "detail-type": string;
  source: "aws.autoscaling";
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, string>;
}

export class FakeAws {
  readonly calls: CallRecord[] = [];
  readonly completions: CompletionRecord[] = [];
  readonly heartbeats: { token: string; instanceId: string }[] = [];
  /** What `afterAttach` callbacks reported to the endpoint. */
  readonly afterAttachCalls: AfterAttachInput[] = [];
  /** The endpoint answers `afterAttach` reports with 500 while this is set. */
  afterAttachFails = false;
  /** Receives a line for every change of state. */
  onStep?: (line: string) => void;

  private readonly instances = new Map<string, FakeInstance>();
  private readonly enis = new Map<string, FakeEni>();
  /** Open lifecycle actions by instance id. */
  private readonly actions = new Map<string, LifecycleAction>();
  private readonly injected: { operation: Operation; remaining: number; error: () => FakeAwsError }[] = [];
  private sequence = 0;
  private readonly startedAt = Date.now();

  constructor(
    readonly timings: FakeTimings = FAST_TIMINGS,
    readonly behaviour: FakeBehaviour = {},
  ) {}

  // --- setting the scene ---

  /** An ENI, with the id given (as the component passes it to the attacher) or a new one. */
  addEni(spec: {
    description: string;
    availabilityZone: string;
    privateIp: string;
    subnetId?: string;
    networkInterfaceId?: string;
  }): string {
    const networkInterfaceId = spec.networkInterfaceId ?? this.id("eni");
    this.enis.set(networkInterfaceId, { subnetId: spec.subnetId ?? "subnet-fake", ...spec, networkInterfaceId });
    return networkInterfaceId;
  }

  /** A running instance, in a group when `group` is given (InService unless `lifecycleState` says otherwise). */
  addInstance(spec: {
    availabilityZone: string;
    tags?: Record<string, string>;
    state?: string;
    group?: string;
    lifecycleState?: string;
  }): string {
    const instanceId = this.id("i");
    this.instances.set(instanceId, {
      instanceId,
      availabilityZone: spec.availabilityZone,
      state: spec.state ?? "running",
      tags: spec.tags ?? {},
      group: spec.group
        ? { name: spec.group, lifecycleState: spec.lifecycleState ?? "InService", healthy: true }
        : undefined,
    });
    return instanceId;
  }

  /** The ENI as already attached (settled) to an instance. */
  attachNow(networkInterfaceId: string, instanceId: string, options: { holdsUntilForced?: boolean } = {}): void {
    this.eniOf(networkInterfaceId).attachment = {
      attachmentId: this.id("eni-attach"),
      instanceId,
      deviceIndex: 1,
      status: "attached",
      holdsUntilForced: options.holdsUntilForced ?? false,
    };
  }

  /**
   * Auto Scaling launches an instance into `group` (or, `into: "WarmPool"`, into its warm pool): EC2
   * pending, the instance in `Pending:Wait` (`Warmed:Pending:Wait`) with a lifecycle action; returns
   * the event EventBridge would deliver.
   */
  launch(spec: {
    group: string;
    hookName: string;
    availabilityZone: string;
    tags: Record<string, string>;
    into?: "AutoScalingGroup" | "WarmPool";
  }): { instanceId: string; token: string; event: LifecycleEvent } {
    const instanceId = this.id("i");
    const into = spec.into ?? "AutoScalingGroup";
    const lifecycleState = into === "WarmPool" ? "Warmed:Pending:Wait" : "Pending:Wait";
    this.instances.set(instanceId, {
      instanceId,
      availabilityZone: spec.availabilityZone,
      state: "pending",
      stateEndsAt: Date.now() + this.timings.bootMs,
      tags: spec.tags,
      group: { name: spec.group, lifecycleState, healthy: true },
    });
    this.step(
      `Auto Scaling launches ${instanceId} in ${spec.availabilityZone}: EC2 pending, ${spec.group} ${lifecycleState}`,
    );
    return this.openLifecycleAction(instanceId, "launch", spec.hookName, { origin: "EC2", destination: into });
  }

  /** Auto Scaling takes an instance out of the warm pool into the group: EC2 starts it, `Pending:Wait`. */
  leaveWarmPool(instanceId: string, hookName: string): { instanceId: string; token: string; event: LifecycleEvent } {
    const instance = this.instanceOf(instanceId);
    if (!instance.group?.lifecycleState.startsWith("Warmed:")) throw new Error(`${instanceId} is not in the warm pool`);
    instance.group.lifecycleState = "Pending:Wait";
    instance.state = "pending";
    instance.stateEndsAt = Date.now() + this.timings.bootMs;
    this.step(`${instanceId} leaves the warm pool: EC2 pending, ${instance.group.name} Pending:Wait`);
    return this.openLifecycleAction(instanceId, "launch", hookName, {
      origin: "WarmPool",
      destination: "AutoScalingGroup",
    });
  }

  /**
   * Auto Scaling starts terminating an instance (e.g. it failed its health check), or, `to:
   * "WarmPool"`, returns it to the warm pool on scale in. With a terminate hook it waits in
   * `Terminating:Wait` (`Warmed:Pending:Wait` on its way to the pool, `Warmed:Terminating:Wait` when
   * terminated from the pool; EC2 unchanged) and an event is returned; without one EC2 shuts it
   * down, which takes `shutdownMs` (or stops it, on its way to the pool).
   */
  terminate(
    instanceId: string,
    terminateHookName?: string,
    options: { to?: "EC2" | "WarmPool" } = {},
  ): LifecycleEvent | undefined {
    const instance = this.instanceOf(instanceId);
    const group = instance.group;
    if (!group) throw new Error(`${instanceId} is in no group`);
    const fromPool = group.lifecycleState.startsWith("Warmed:");
    const to = options.to ?? "EC2";
    group.healthy = to === "WarmPool";
    if (terminateHookName) {
      group.lifecycleState = fromPool
        ? "Warmed:Terminating:Wait"
        : to === "WarmPool"
          ? "Warmed:Pending:Wait"
          : "Terminating:Wait";
      this.step(
        `${instanceId} leaves ${fromPool ? "the warm pool" : "service"}: ${group.name} ${group.lifecycleState}`,
      );
      const origin = fromPool ? "WarmPool" : "AutoScalingGroup";
      return this.openLifecycleAction(instanceId, "terminate", terminateHookName, { origin, destination: to }).event;
    }
    if (to === "WarmPool") {
      this.park(instance);
      return undefined;
    }
    group.lifecycleState = fromPool ? "Warmed:Terminating" : "Terminating";
    this.shutDown(instance);
    this.step(`${instanceId} is unhealthy: ${group.name} ${group.lifecycleState}, EC2 shutting-down`);
    return undefined;
  }

  /** The next `times` calls of `operation` fail with this error. */
  failNext(operation: Operation, code: string, message: string, times = 1, status = 400): void {
    this.injected.push({ operation, remaining: times, error: () => new FakeAwsError(code, message, status) });
  }

  /** The next `times` calls of `operation` are throttled, with the service's own throttling code. */
  throttle(operation: Operation, times: number): void {
    if (AUTO_SCALING_OPERATIONS.has(operation)) this.failNext(operation, "Throttling", "Rate exceeded", times, 400);
    else this.failNext(operation, "RequestLimitExceeded", "Request limit exceeded.", times, 503);
  }

  // --- looking at the state ---

  eni(networkInterfaceId: string): {
    status: string;
    attachment?: { instanceId: string; status: string; deviceIndex: number };
  } {
    this.advance();
    const { attachment } = this.eniOf(networkInterfaceId);
    return {
      status: attachment ? "in-use" : "available",
      attachment: attachment && {
        instanceId: attachment.instanceId,
        status: attachment.status,
        deviceIndex: attachment.deviceIndex,
      },
    };
  }

  instance(instanceId: string): { state: string; lifecycleState?: string } {
    this.advance();
    const instance = this.instanceOf(instanceId);
    return { state: instance.state, lifecycleState: instance.group?.lifecycleState };
  }

  /** The calls made of one operation. */
  callsOf(operation: Operation): CallRecord[] {
    return this.calls.filter((call) => call.operation === operation);
  }

  // --- EC2 ---

  describeInstances(input: DescribeInstancesRequest): DescribeInstancesResult {
    return this.call("DescribeInstances", input, () => {
      const ids = input.InstanceIds ?? [...this.instances.keys()];
      const found = ids.map((id) => {
        const instance = this.instances.get(id);
        if (!instance) throw new FakeAwsError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
        return instance;
      });
      return {
        Reservations: found.map((instance) => ({
          ReservationId: `r-${instance.instanceId.slice(2)}`,
          OwnerId: FAKE_ACCOUNT,
          Instances: [this.instanceShape(instance)],
        })),
      };
    });
  }

  describeNetworkInterfaces(input: DescribeNetworkInterfacesRequest): DescribeNetworkInterfacesResult {
    return this.call("DescribeNetworkInterfaces", input, () => {
      const byId = (input.NetworkInterfaceIds?.length ?? 0) > 0;
      if (byId && input.MaxResults !== undefined) {
        throw new FakeAwsError(
          "InvalidParameterCombination",
          "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults",
        );
      }
      const documentedFilter = (input.Filters ?? []).some((filter) => LARGE_ACCOUNT_FILTERS.has(filter.Name ?? ""));
      if ((this.behaviour.largeAccountEnis ?? 0) > 0 && !byId && input.MaxResults === undefined && !documentedFilter) {
        throw new FakeAwsError(
          "InvalidRequest",
          "This account has too many network interfaces to describe in one call; paginate with MaxResults or filter by group-id, mac-address, private-dns-name, private-ip-address, subnet-id or vpc-id.",
        );
      }
      let found = [...this.enis.values()];
      if (byId) {
        found = (input.NetworkInterfaceIds ?? []).map((id) => {
          const eni = this.enis.get(id);
          if (!eni)
            throw new FakeAwsError(
              "InvalidNetworkInterfaceID.NotFound",
              `The networkInterface ID '${id}' does not exist`,
            );
          return eni;
        });
      }
      for (const filter of input.Filters ?? []) {
        const read: Record<string, (eni: FakeEni) => string | undefined> = {
          description: (eni) => eni.description,
          "subnet-id": (eni) => eni.subnetId,
          "availability-zone": (eni) => eni.availabilityZone,
          "attachment.instance-id": (eni) => eni.attachment?.instanceId,
        };
        const field = read[filter.Name ?? ""];
        if (!field) throw new FakeAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
        found = found.filter((eni) => (filter.Values ?? []).includes(field(eni) ?? ""));
      }
      return { NetworkInterfaces: found.map((eni) => this.eniShape(eni)) };
    });
  }

  attachNetworkInterface(input: AttachNetworkInterfaceRequest): AttachNetworkInterfaceResult {
    return this.call("AttachNetworkInterface", input, () => {
      const eni = this.existingEni(input.NetworkInterfaceId);
      const instance = this.existingInstance(input.InstanceId);
      if (eni.attachment) {
        // EC2 documents only the InUse message; the InvalidParameterValue text is this fake's.
        throw this.behaviour.eniInUseError === "InvalidParameterValue"
          ? new FakeAwsError(
              "InvalidParameterValue",
              `Network interface '${eni.networkInterfaceId}' is currently in use.`,
            )
          : new FakeAwsError("InvalidNetworkInterface.InUse", `Interface: [${eni.networkInterfaceId}] in use.`);
      }
      if (instance.state !== "running" && instance.state !== "stopped") {
        throw new FakeAwsError(
          "IncorrectInstanceState",
          `The instance '${instance.instanceId}' is not in a valid state for this operation.`,
        );
      }
      if (instance.availabilityZone !== eni.availabilityZone) {
        throw new FakeAwsError(
          "InvalidParameterValue",
          "The network interface and the instance must be in the same Availability Zone.",
        );
      }
      const deviceIndex = input.DeviceIndex ?? -1;
      const taken =
        deviceIndex === 0 ||
        [...this.enis.values()].some(
          (other) =>
            other.attachment?.instanceId === instance.instanceId && other.attachment.deviceIndex === deviceIndex,
        );
      if (taken) {
        throw new FakeAwsError(
          "InvalidParameterValue",
          `Instance '${instance.instanceId}' already has an interface attached at device index '${deviceIndex}'.`,
        );
      }
      const attachmentId = this.id("eni-attach");
      eni.attachment = {
        attachmentId,
        instanceId: instance.instanceId,
        deviceIndex,
        status: "attaching",
        settlesAt: Date.now() + this.timings.attachMs,
        holdsUntilForced: false,
      };
      this.step(
        `EC2 attaches ${eni.networkInterfaceId} (${eni.privateIp}) to ${instance.instanceId} at device index ${deviceIndex}: attaching`,
      );
      return { AttachmentId: attachmentId, NetworkCardIndex: 0 };
    });
  }

  detachNetworkInterface(input: DetachNetworkInterfaceRequest): void {
    return this.call("DetachNetworkInterface", input, () => {
      const eni = [...this.enis.values()].find(
        (candidate) => candidate.attachment?.attachmentId === input.AttachmentId,
      );
      const attachment = eni?.attachment;
      if (!eni || !attachment)
        throw new FakeAwsError(
          "InvalidAttachmentID.NotFound",
          `The attachment ID '${input.AttachmentId}' does not exist`,
        );
      if (attachment.deviceIndex === 0)
        throw new FakeAwsError("OperationNotPermitted", "The network interface at device index 0 cannot be detached.");
      const letsGo = input.Force === true || !attachment.holdsUntilForced;
      if (attachment.status !== "detaching" || (letsGo && attachment.settlesAt === undefined)) {
        attachment.status = "detaching";
        attachment.settlesAt = letsGo ? Date.now() + this.timings.detachMs : undefined;
      }
      this.step(
        `EC2 ${input.Force ? "force-" : ""}detaches ${eni.networkInterfaceId} from ${attachment.instanceId}: detaching` +
          (letsGo ? "" : " (the instance does not let go until the detach is forced)"),
      );
    });
  }

  // --- Auto Scaling ---

  describeAutoScalingInstances(input: DescribeAutoScalingInstancesType): AutoScalingInstancesType {
    return this.call("DescribeAutoScalingInstances", input, () => {
      const members = (input.InstanceIds ?? [])
        .map((id) => this.instances.get(id))
        .filter(
          (instance): instance is FakeInstance & { group: NonNullable<FakeInstance["group"]> } =>
            instance?.group !== undefined,
        )
        .map((instance): AutoScalingInstanceDetails => ({
          InstanceId: instance.instanceId,
          InstanceType: "t4g.small",
          AutoScalingGroupName: instance.group.name,
          AvailabilityZone: instance.availabilityZone,
          LifecycleState: instance.group.lifecycleState,
          HealthStatus: instance.group.healthy ? "HEALTHY" : "UNHEALTHY",
          ProtectedFromScaleIn: false,
        }));
      return { AutoScalingInstances: members };
    });
  }

  completeLifecycleAction(input: CompleteLifecycleActionType): void {
    return this.call("CompleteLifecycleAction", input, () => {
      const record: CompletionRecord = {
        token: input.LifecycleActionToken ?? "",
        instanceId: input.InstanceId ?? "",
        hookName: input.LifecycleHookName ?? "",
        result: input.LifecycleActionResult ?? "",
        accepted: false,
      };
      this.completions.push(record);
      const action = this.openAction(input);
      if (record.result !== "CONTINUE" && record.result !== "ABANDON") {
        throw new FakeAwsError("ValidationError", `LifecycleActionResult ${record.result} is not CONTINUE or ABANDON.`);
      }
      record.accepted = true;
      this.actions.delete(action.instanceId);
      const instance = this.instanceOf(action.instanceId);
      const group = instance.group;
      if (!group) return;
      this.proceed(instance, group, action, record.result);
    });
  }

  recordLifecycleActionHeartbeat(input: RecordLifecycleActionHeartbeatType): void {
    return this.call("RecordLifecycleActionHeartbeat", input, () => {
      const action = this.openAction(input);
      this.heartbeats.push({ token: action.token, instanceId: action.instanceId });
    });
  }

  // --- rules ---

  /**
   * Records the call, applies what time has changed, throws an injected failure if one is due, else
   * answers; the record keeps the code of any error the call is answered with.
   */
  private call<T>(operation: Operation, input: object, answer: () => T): T {
    this.advance();
    const record: CallRecord = { operation, input: { ...input } };
    this.calls.push(record);
    try {
      const due = this.injected.find((failure) => failure.operation === operation && failure.remaining > 0);
      if (due) {
        due.remaining -= 1;
        throw due.error();
      }
      return answer();
    } catch (error) {
      if (error instanceof FakeAwsError) record.error = error.code;
      throw error;
    }
  }

  /** Applies the state changes whose time has come. */
  private advance(): void {
    const now = Date.now();
    for (const instance of this.instances.values()) {
      if (instance.stateEndsAt === undefined || now < instance.stateEndsAt) continue;
      instance.stateEndsAt = undefined;
      if (instance.state === "pending") {
        instance.state = "running";
        this.step(`${instance.instanceId} is running`);
      } else if (instance.state === "shutting-down") {
        instance.state = "terminated";
        if (instance.group) {
          instance.group.lifecycleState = instance.group.lifecycleState.startsWith("Warmed:")
            ? "Warmed:Terminated"
            : "Terminated";
        }
        for (const eni of this.enis.values()) {
          if (eni.attachment?.instanceId === instance.instanceId) {
            eni.attachment = undefined;
            this.step(
              `${instance.instanceId} terminated: ${eni.networkInterfaceId} (DeleteOnTermination false) is available`,
            );
          }
        }
      }
    }
    for (const eni of this.enis.values()) {
      const attachment = eni.attachment;
      if (!attachment || attachment.settlesAt === undefined || now < attachment.settlesAt) continue;
      if (attachment.status === "attaching") {
        attachment.status = "attached";
        attachment.settlesAt = undefined;
        this.step(`${eni.networkInterfaceId} is attached to ${attachment.instanceId}`);
      } else if (attachment.status === "detaching") {
        eni.attachment = undefined;
        this.step(`${eni.networkInterfaceId} is detached from ${attachment.instanceId}: available`);
      }
    }
  }

  /** Where a completed lifecycle action takes the instance (ec2-auto-scaling-lifecycle, warm-pool-instance-lifecycle, manage-retained-instances). */
  private proceed(
    instance: FakeInstance,
    group: NonNullable<FakeInstance["group"]>,
    action: LifecycleAction,
    result: string,
  ): void {
    const fromPool = group.lifecycleState === "Warmed:Terminating:Wait";
    const warmed = fromPool || action.destination === "WarmPool" ? "Warmed:" : "";
    if (action.kind === "launch" && result === "CONTINUE") {
      if (action.destination === "WarmPool") this.park(instance);
      else group.lifecycleState = "InService";
      this.step(`${action.instanceId}: lifecycle action CONTINUE -> ${group.lifecycleState}`);
    } else if (
      action.kind === "terminate" &&
      result === "ABANDON" &&
      this.behaviour.terminateHookAbandon === "retain"
    ) {
      group.lifecycleState = `${warmed}${action.destination === "WarmPool" ? "Pending" : "Terminating"}:Retained`;
      this.step(
        `${action.instanceId}: lifecycle action ABANDON -> ${group.lifecycleState} (the instance keeps running)`,
      );
    } else if (action.kind === "terminate" && action.destination === "WarmPool") {
      this.park(instance);
      this.step(`${action.instanceId}: lifecycle action ${result} -> back in the warm pool, EC2 stopped`);
    } else {
      group.lifecycleState = `${warmed}Terminating:Proceed`;
      this.shutDown(instance);
      this.step(`${action.instanceId}: lifecycle action ${result} -> terminating, EC2 shutting-down`);
    }
  }

  /** The instance rests in the warm pool, stopped (the pool's default state); it keeps its attachments. */
  private park(instance: FakeInstance): void {
    if (instance.group) instance.group.lifecycleState = "Warmed:Stopped";
    instance.state = "stopped";
    instance.stateEndsAt = undefined;
  }

  /** Opens a lifecycle action for the instance and returns the event EventBridge would deliver for it. */
  private openLifecycleAction(
    instanceId: string,
    kind: "launch" | "terminate",
    hookName: string,
    route: { origin: Place; destination: Place },
  ): { instanceId: string; token: string; event: LifecycleEvent } {
    const groupName = this.instanceOf(instanceId).group?.name ?? "";
    const token = randomUUID();
    this.actions.set(instanceId, { token, groupName, hookName, instanceId, kind, destination: route.destination });
    return { instanceId, token, event: lifecycleEvent(kind, groupName, hookName, instanceId, token, route) };
  }

  private shutDown(instance: FakeInstance): void {
    instance.state = "shutting-down";
    instance.stateEndsAt = Date.now() + this.timings.shutdownMs;
  }

  private openAction(input: {
    InstanceId?: string;
    LifecycleActionToken?: string;
    AutoScalingGroupName?: string;
    LifecycleHookName?: string;
  }): LifecycleAction {
    const action = input.InstanceId ? this.actions.get(input.InstanceId) : undefined;
    const matches =
      action !== undefined &&
      action.token === input.LifecycleActionToken &&
      action.groupName === input.AutoScalingGroupName &&
      action.hookName === input.LifecycleHookName;
    if (!matches)
      throw new FakeAwsError(
        "ValidationError",
        `No active Lifecycle Action found with instance ID ${input.InstanceId}`,
      );
    return action;
  }

  private instanceShape(instance: FakeInstance): Instance {
    const codes: Record<string, number> = {
      pending: 0,
      running: 16,
      "shutting-down": 32,
      terminated: 48,
      stopping: 64,
      stopped: 80,
    };
    return {
      InstanceId: instance.instanceId,
      State: { Code: codes[instance.state], Name: instance.state as never },
      Placement: { AvailabilityZone: instance.availabilityZone },
      Tags: Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
    };
  }

  private eniShape(eni: FakeEni): NetworkInterface {
    const { attachment } = eni;
    return {
      NetworkInterfaceId: eni.networkInterfaceId,
      Description: eni.description,
      AvailabilityZone: eni.availabilityZone,
      SubnetId: eni.subnetId,
      PrivateIpAddress: eni.privateIp,
      // The attacher reads the attachment; the interface status only says whether one exists.
      Status: attachment ? "in-use" : "available",
      Attachment: attachment && {
        AttachmentId: attachment.attachmentId,
        InstanceId: attachment.instanceId,
        DeviceIndex: attachment.deviceIndex,
        Status: attachment.status,
        DeleteOnTermination: false,
      },
    };
  }

  private existingEni(id: string | undefined): FakeEni {
    const eni = this.enis.get(id ?? "");
    if (!eni)
      throw new FakeAwsError("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${id}' does not exist`);
    return eni;
  }

  private existingInstance(id: string | undefined): FakeInstance {
    const instance = this.instances.get(id ?? "");
    if (!instance) throw new FakeAwsError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    return instance;
  }

  private eniOf(id: string): FakeEni {
    const eni = this.enis.get(id);
    if (!eni) throw new Error(`no ENI ${id} in the fake`);
    return eni;
  }

  private instanceOf(id: string): FakeInstance {
    const instance = this.instances.get(id);
    if (!instance) throw new Error(`no instance ${id} in the fake`);
    return instance;
  }

  private id(prefix: string): string {
    this.sequence += 1;
    return `${prefix}-${this.sequence.toString(16).padStart(17, "0")}`;
  }

  private step(line: string): void {
    this.onStep?.(`+${String(Date.now() - this.startedAt).padStart(5)} ms  ${line}`);
  }
}

/**
 * The event EventBridge delivers for a lifecycle action (AWS documentation samples, these ids):
 * an instance launched into the group, or terminated from it, unless `route` says otherwise
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html).
 */
export function lifecycleEvent(
  kind: "launch" | "terminate",
  group: string,
  hookName: string,
  instanceId: string,
  token: string,
  route?: { origin: Place; destination: Place },
): LifecycleEvent {
  const launch = kind === "launch";
  const { origin, destination } =
    route ??
    (launch ? { origin: "EC2", destination: "AutoScalingGroup" } : { origin: "AutoScalingGroup", destination: "EC2" });
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": launch ? "EC2 Instance-launch Lifecycle Action" : "EC2 Instance-terminate Lifecycle Action",
    source: "aws.autoscaling",
    account: FAKE_ACCOUNT,
    time: new Date().toISOString(),
    region: FAKE_REGION,
    resources: [
      `arn:aws:autoscaling:${FAKE_REGION}:${FAKE_ACCOUNT}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${group}`,
    ],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: group,
      LifecycleHookName: hookName,
      EC2InstanceId: instanceId,
      LifecycleTransition: launch ? "autoscaling:EC2_INSTANCE_LAUNCHING" : "autoscaling:EC2_INSTANCE_TERMINATING",
      NotificationMetadata: "additional-info",
      Origin: origin,
      Destination: destination,
    },
  };
}
