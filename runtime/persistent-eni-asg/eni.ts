/**
 * Moves the persistent ENI onto an instance, following EC2's documented rules:
 * - an ENI attaches only to an instance in its own Availability Zone, and only while it has no
 *   attachment (status `available`);
 * - an attachment goes `attaching` -> `attached`; a detach goes `detaching` -> gone, and the ENI is
 *   `available` again; a forced detach is for an instance that does not release it;
 * - an ENI attached through the API has DeleteOnTermination false: it outlives its instance, and a
 *   terminating instance keeps it until its shutdown finishes (or until it is detached).
 * The ENI is only ever taken from an instance out of service (terminating, detaching from its group,
 * or in the warm pool); an instance in service, in standby or retained keeps it and the caller gives up.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type AutoScalingClient, DescribeAutoScalingInstancesCommand } from "@aws-sdk/client-auto-scaling";
import {
  AttachNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  type NetworkInterface,
} from "@aws-sdk/client-ec2";

/** The persistent ENI is the instance's second interface (index 0 is the primary one). */
export const PERSISTENT_DEVICE_INDEX = 1;

/** Why the persistent ENI could not be (or must not be) moved; the lifecycle action is abandoned. */
export class EniError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EniError";
  }
}

export interface EniContext {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  /** Aborts every call and wait at the attacher's deadline. */
  signal: AbortSignal;
  pollIntervalMs: number;
  /** How long a plain detach may take before it is forced. */
  forceDetachAfterMs: number;
  /** Records what is being done or waited for, for logs and for the reason of a timeout. */
  step(message: string, fields?: Record<string, unknown>): void;
}

export interface InstanceView {
  instanceId: string;
  /** EC2 state: pending, running, shutting-down, terminated, stopping, stopped. */
  state: string;
  availabilityZone: string;
  tags: Record<string, string>;
}

export interface EniView {
  networkInterfaceId: string;
  description: string;
  availabilityZone: string;
  privateIp: string;
  attachment?: { attachmentId: string; instanceId: string; deviceIndex: number; status: string };
}

/** An instance that holds the ENI, and whether it serves nobody, so the ENI may be taken from it. */
export interface Holder {
  instanceId: string;
  outOfService: boolean;
  /** Its states, for messages: `InService in group "web" (EC2 running)`. */
  summary: string;
}

/**
 * The Auto Scaling lifecycle states of an instance that serves nobody and is not kept on purpose,
 * named exactly as the API returns them
 * (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingInstanceDetails.html):
 * terminating or terminated, detaching from the group, or in the warm pool (entering it, returning
 * to it on scale in, parked there, or terminating from it), where no load balancer sends it traffic
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
 * Never taken from: an instance launching, in service, in standby or having its root volume
 * replaced; and one retained (`Terminating:Retained`, `Warmed:Pending:Retained`,
 * `Warmed:Terminating:Retained`), which an instance lifecycle policy keeps running for manual
 * intervention after its terminate action was abandoned, until someone terminates it
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/manage-retained-instances.html).
 */
const OUT_OF_SERVICE_LIFECYCLE_STATES = new Set([
  "Terminating",
  "Terminating:Wait",
  "Terminating:Proceed",
  "Terminated",
  "Detaching",
  "Detached",
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
]);
/** EC2 states of an instance that is going away. */
const GOING_EC2_STATES = new Set(["shutting-down", "terminated"]);

/** The error code of an SDK error (its `name`), or undefined. */
export function errorCode(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
}

/** One instance, or undefined when EC2 does not (or no longer, or not yet) know it. */
export async function describeInstance(ctx: EniContext, instanceId: string): Promise<InstanceView | undefined> {
  try {
    const output = await ctx.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), {
      abortSignal: ctx.signal,
    });
    const instance = output.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    if (!instance) return undefined;
    return {
      instanceId,
      state: instance.State?.Name ?? "unknown",
      availabilityZone: instance.Placement?.AvailabilityZone ?? "",
      tags: Object.fromEntries((instance.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
    };
  } catch (error) {
    if (errorCode(error) === "InvalidInstanceID.NotFound") return undefined;
    throw error;
  }
}

/** Waits until a launching instance runs: EC2 attaches interfaces only to running (or stopped) instances. */
export async function waitUntilRunning(ctx: EniContext, instanceId: string): Promise<InstanceView> {
  for (;;) {
    const instance = await describeInstance(ctx, instanceId);
    if (instance?.state === "running") return instance;
    if (instance && instance.state !== "pending") {
      throw new EniError(`instance ${instanceId} is ${instance.state}, not launching; there is nothing to attach to.`);
    }
    ctx.step(`waiting for instance ${instanceId} to run`, { state: instance?.state ?? "not visible yet" });
    await pause(ctx);
  }
}

/**
 * The persistent ENI, described by its id. EC2 documents that DescribeNetworkInterfaces fails in an
 * account with many network interfaces unless it is paginated or filtered by group-id, mac-address,
 * private-dns-name, private-ip-address, subnet-id or vpc-id
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html); a
 * call naming the id describes that one ENI, whatever the account holds.
 */
export async function describeEni(ctx: EniContext, networkInterfaceId: string): Promise<EniView> {
  try {
    const output = await ctx.ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }),
      { abortSignal: ctx.signal },
    );
    const eni = output.NetworkInterfaces?.find((found) => found.NetworkInterfaceId === networkInterfaceId);
    if (eni) return toEniView(eni);
  } catch (error) {
    if (errorCode(error) !== "InvalidNetworkInterfaceID.NotFound") throw error;
  }
  throw new EniError(
    `network interface ${networkInterfaceId} does not exist; the persistent ENI must exist in this account and region.`,
  );
}

function toEniView(eni: NetworkInterface): EniView {
  const attachment = eni.Attachment?.InstanceId
    ? {
        attachmentId: eni.Attachment.AttachmentId ?? "",
        instanceId: eni.Attachment.InstanceId,
        deviceIndex: eni.Attachment.DeviceIndex ?? -1,
        status: eni.Attachment.Status ?? "unknown",
      }
    : undefined;
  return {
    networkInterfaceId: eni.NetworkInterfaceId ?? "",
    description: eni.Description ?? "",
    availabilityZone: eni.AvailabilityZone ?? "",
    privateIp: eni.PrivateIpAddress ?? "",
    attachment,
  };
}

/** Whether the instance holding the ENI is out of service, from its EC2 state and its Auto Scaling lifecycle state. */
export async function describeHolder(ctx: EniContext, instanceId: string): Promise<Holder> {
  const [instance, groupMember] = await Promise.all([
    describeInstance(ctx, instanceId),
    ctx.autoScaling
      .send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal: ctx.signal })
      .then((output) => output.AutoScalingInstances?.[0]),
  ]);
  const lifecycle = groupMember?.LifecycleState;
  const outOfService =
    instance === undefined ||
    GOING_EC2_STATES.has(instance.state) ||
    (lifecycle !== undefined && OUT_OF_SERVICE_LIFECYCLE_STATES.has(lifecycle));
  const membership = groupMember
    ? `${lifecycle} in group ${JSON.stringify(groupMember.AutoScalingGroupName)}`
    : "in no Auto Scaling group";
  return { instanceId, outOfService, summary: `${membership} (EC2 ${instance?.state ?? "gone"})` };
}

/**
 * Makes the ENI attached to `instanceId` at device index 1 and returns it, idempotently: already
 * attached (a repeated event) is success; a holder out of service is detached (forced after the
 * grace period) and the ENI attached once `available`; any other holder is an `EniError`.
 */
export async function attachToInstance(ctx: EniContext, instance: InstanceView, eni: EniView): Promise<EniView> {
  if (eni.availabilityZone !== instance.availabilityZone) {
    throw new EniError(
      `network interface ${eni.networkInterfaceId} is in ${eni.availabilityZone} but instance ${instance.instanceId} is in ${instance.availabilityZone}; ` +
        "an ENI attaches only to instances of its own Availability Zone: pin the Auto Scaling group to the ENI's subnet.",
    );
  }
  const release = new Release(ctx, eni.networkInterfaceId);
  for (let current = eni; ; current = await describeEni(ctx, eni.networkInterfaceId)) {
    const attachment = current.attachment;
    if (!attachment) {
      await attach(ctx, instance.instanceId, current);
    } else if (attachment.instanceId === instance.instanceId && attachment.status === "attached") {
      if (attachment.deviceIndex !== PERSISTENT_DEVICE_INDEX) {
        ctx.step(
          `network interface is attached at device index ${attachment.deviceIndex}, not ${PERSISTENT_DEVICE_INDEX}`,
        );
      }
      return current;
    } else if (attachment.instanceId === instance.instanceId) {
      ctx.step(`waiting for the attachment to settle`, { status: attachment.status });
    } else {
      await release.from(attachment);
    }
    await pause(ctx);
  }
}

/** Detaches the ENI from a terminating instance so a replacement gets it sooner; waits until it is free. */
export async function releaseFromInstance(ctx: EniContext, instanceId: string, eni: EniView): Promise<void> {
  const release = new Release(ctx, eni.networkInterfaceId);
  for (
    let current = eni;
    current.attachment?.instanceId === instanceId;
    current = await describeEni(ctx, eni.networkInterfaceId)
  ) {
    await release.from(current.attachment);
    await pause(ctx);
  }
}

async function attach(ctx: EniContext, instanceId: string, eni: EniView): Promise<void> {
  ctx.step(`attaching ${eni.networkInterfaceId} to ${instanceId} at device index ${PERSISTENT_DEVICE_INDEX}`);
  try {
    await ctx.ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: eni.networkInterfaceId,
        InstanceId: instanceId,
        DeviceIndex: PERSISTENT_DEVICE_INDEX,
      }),
      { abortSignal: ctx.signal },
    );
  } catch (error) {
    // A concurrent invocation for the same event may have attached it first. EC2 refuses an ENI in
    // use with InvalidNetworkInterface.InUse, and says it may answer InvalidParameterValue instead
    // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html), a code it also
    // gives for real failures (a device index taken): whatever the code, an ENI that is attached now
    // is for the caller's loop to judge; only an ENI still free means the attach itself failed.
    const inUse =
      errorCode(error) === "InvalidNetworkInterface.InUse" ||
      (await describeEni(ctx, eni.networkInterfaceId)).attachment !== undefined;
    if (inUse) {
      ctx.step("network interface became in use meanwhile; looking again", { error: errorText(error) });
      return;
    }
    throw new EniError(`attaching ${eni.networkInterfaceId} to ${instanceId} failed: ${errorText(error)}`);
  }
}

/** Takes the ENI back from a holder out of service: one plain detach, one forced detach after the grace period. */
class Release {
  private detachSince?: number;
  private forced = false;
  private holder?: Holder;

  constructor(
    private readonly ctx: EniContext,
    private readonly networkInterfaceId: string,
  ) {}

  async from(attachment: NonNullable<EniView["attachment"]>): Promise<void> {
    const holder = await this.outOfServiceHolder(attachment.instanceId);
    if (attachment.status === "attaching" || attachment.status === "attached") {
      this.ctx.step(`detaching from ${holder.instanceId}, ${holder.summary}`);
      await this.detach(attachment.attachmentId, false);
      this.detachSince ??= Date.now();
      return;
    }
    this.detachSince ??= Date.now();
    const waited = Date.now() - this.detachSince;
    if (!this.forced && waited >= this.ctx.forceDetachAfterMs) {
      this.ctx.step(`forcing the detach from ${holder.instanceId} after ${waited} ms`);
      await this.detach(attachment.attachmentId, true);
      this.forced = true;
      return;
    }
    this.ctx.step(`waiting for ${holder.instanceId} to release the network interface`, { waitedMs: waited });
  }

  /** The holder, checked once: only an instance out of service is ever detached from. */
  private async outOfServiceHolder(instanceId: string): Promise<Holder> {
    if (this.holder?.instanceId !== instanceId) this.holder = await describeHolder(this.ctx, instanceId);
    if (!this.holder.outOfService) {
      throw new EniError(
        `network interface ${this.networkInterfaceId} is attached to ${instanceId}, which is ${this.holder.summary}; ` +
          "the persistent ENI is only taken from an instance out of service (terminating, detaching or in the warm pool), " +
          "never from one in service, in standby or retained. Terminate or detach that instance first.",
      );
    }
    return this.holder;
  }

  private async detach(attachmentId: string, force: boolean): Promise<void> {
    try {
      await this.ctx.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId, Force: force }), {
        abortSignal: this.ctx.signal,
      });
    } catch (error) {
      // The holder finished terminating meanwhile and EC2 removed the attachment itself.
      if (errorCode(error) === "InvalidAttachmentID.NotFound") return;
      throw new EniError(`detaching ${this.networkInterfaceId} (${attachmentId}) failed: ${errorText(error)}`);
    }
  }
}

function pause(ctx: EniContext): Promise<void> {
  return sleep(ctx.pollIntervalMs, undefined, { signal: ctx.signal });
}
