/**
 * PersistentEniAsg: an Auto Scaling group (normally of one instance, behind a load balancer) whose
 * instance always answers at the same private IP inside the VPC.
 *
 * A persistent secondary ENI holds the IP. Instances carry its description in a tag (`Eth1` by
 * default). A launch lifecycle hook (default result ABANDON) holds each new instance in
 * `Pending:Wait`; an EventBridge rule sends the hook's event to the attacher Lambda, which finds
 * the ENI by that description, takes it from a leaving predecessor if needed, attaches it at device
 * index 1 and completes the lifecycle action: CONTINUE, or ABANDON on any failure, so an instance
 * without the IP never enters service. An ENI lives in one Availability Zone, so the group is
 * pinned to the ENI's subnet.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AfterAttach, type AttacherOptions, attacherRuntime } from "../runtime/persistent-eni-asg/attacher";
import { runtimeEntry } from "./artifact";
import { deadLetterDepthAlarmArgs, deadLetterQueueArgs, denyInsecureTransport } from "./aws-secure-defaults";
import {
  LambdaFunction,
  type LambdaFunctionArgs,
  type LambdaFunctionSettings,
  validateLambdaFunctionArgs,
} from "./lambda-function";
import { applyTransform, type Transform } from "./transform";
import { arnParts, isArn } from "./validators/arn";
import { type ArgumentChecker, ownerLabel } from "./validation";

export type { AfterAttach, AfterAttachInput } from "../runtime/persistent-eni-asg/attacher";

/** Create the persistent ENI with a fixed private IP. */
export interface NewPersistentEni {
  /** The subnet the ENI (and so the group) lives in. */
  subnetId: pulumi.Input<string>;
  /**
   * The fixed private IPv4 address, free in the subnet.
   * @example "10.0.1.10"
   */
  privateIp: string;
  /** Security groups of the ENI: what may reach the persistent IP. At least one. */
  securityGroupIds: pulumi.Input<string>[];
  /**
   * The ENI's description, which instances carry in their tag and the attacher looks up; it must be
   * unique in the account and region.
   * @default `<project>/<stack>/<name> persistent ENI`
   */
  description?: string;
  /**
   * The subnet's CIDR block, if known, so `privateIp` is checked at preview (inside the subnet, not
   * one of the five addresses AWS reserves).
   * @example "10.0.1.0/24"
   */
  subnetCidrBlock?: string;
}

/** Adopt an ENI that already exists; its subnet, description, IP and security groups are looked up. */
export interface ExistingPersistentEni {
  /**
   * The ENI's id. Its description must be set and unique in the account and region.
   * @example "eni-0123456789abcdef0"
   */
  existingNetworkInterfaceId: pulumi.Input<string>;
}

export interface PersistentEniAsgArgs {
  /** The persistent ENI: created here (`subnetId`, `privateIp`, `securityGroupIds`) or adopted (`existingNetworkInterfaceId`). */
  networkInterface: NewPersistentEni | ExistingPersistentEni;
  /**
   * The AMI of the instances. The default user data assumes Amazon Linux 2023.
   * @example aws.ec2.getAmiOutput({ owners: ["amazon"], mostRecent: true, filters: [{ name: "name", values: ["al2023-ami-2023.*-arm64"] }] }).id
   */
  imageId: pulumi.Input<string>;
  /**
   * The instance type (its architecture must match the AMI's; it must support two interfaces).
   * @example "t4g.small"
   */
  instanceType: pulumi.Input<string>;
  /** Security groups of the instance's primary interface. @default the persistent ENI's security groups */
  instanceSecurityGroupIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Instance profile for the instances (e.g. with AmazonSSMManagedInstanceCore). @default none */
  instanceProfileArn?: pulumi.Input<string>;
  /**
   * The instance's boot script, plain text (it is base64-encoded here).
   * @default {@link persistentIpUserData}: on Amazon Linux 2023, waits until the persistent IP is up
   */
  userData?: pulumi.Input<string>;
  /** The instance tag that carries the ENI's description. @default "Eth1" */
  tagKey?: string;
  /** The group's name, fixed so the event rule and IAM can name it before it exists. @default `<project>-<stack>-<name>` */
  autoScalingGroupName?: string;
  /** 0 or 1. @default 1 */
  minSize?: number;
  /** One ENI serves one instance: 1. @default 1 */
  maxSize?: number;
  /** 0 or 1, at least minSize. @default 1 */
  desiredCapacity?: number;
  /** Target groups the instance registers with (health checks then come from the load balancer). @default [] */
  targetGroupArns?: pulumi.Input<pulumi.Input<string>[]>;
  /** Seconds after the instance enters service before health checks count. @default 300 */
  healthCheckGracePeriodSeconds?: number;
  /**
   * How long the launch hook waits for the attacher (or its next heartbeat) before its default
   * result, ABANDON, terminates the instance. A later change applies in place, through the hook's
   * own `aws.autoscaling.LifecycleHook`; the group keeps the hooks it was created with.
   * @default 300
   */
  heartbeatTimeoutSeconds?: number;
  /** How long a plain detach from a leaving predecessor may take before it is forced. @default 60 */
  forceDetachAfterSeconds?: number;
  /**
   * Add a terminate lifecycle hook whose event makes the attacher detach the ENI from an instance as
   * soon as it leaves service (terminated, or returned to a warm pool on scale in), so the next
   * instance in service gets the IP sooner. Turning it on or off later adds or removes the hook in
   * place; the group is kept.
   * @default false
   */
  detachOnTerminate?: boolean;
  /**
   * Runs in the attacher after the ENI is attached, before the instance enters service; throwing
   * abandons the launch.
   * @example async ({ instanceId, privateIp }) => { await route53.send(new ChangeResourceRecordSetsCommand(...)); }
   */
  afterAttach?: AfterAttach;
  /**
   * The attacher function's settings (LambdaFunction's defaults, but a timeout of 300 s, at least 60).
   * `permissions` adds what `afterAttach` calls need to the function's role, one Allow statement each.
   * @example { permissions: [{ actions: ["route53:ChangeResourceRecordSets"], resources: [zone.arn] }] }
   */
  attacher?: Omit<LambdaFunctionSettings, "reservedConcurrency">;
  /**
   * Where the failure queue's alarm notifies (e.g. SNS topic ARNs): any event there is a launch or
   * release nobody handled.
   * @default none: the alarm only changes state
   * @example [onCall.arn]
   */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /** Escape hatches: change what this component did not foresee. */
  transform?: {
    networkInterface?: Transform<aws.ec2.NetworkInterfaceArgs>;
    launchTemplate?: Transform<aws.ec2.LaunchTemplateArgs>;
    group?: Transform<aws.autoscaling.GroupArgs>;
    launchRule?: Transform<aws.cloudwatch.EventRuleArgs>;
    failureQueue?: Transform<aws.sqs.QueueArgs>;
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    attacher?: LambdaFunctionArgs["transform"];
  };
}

export const DEFAULT_TAG_KEY = "Eth1";
const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 300;
const DEFAULT_FORCE_DETACH_AFTER_SECONDS = 60;
const DEFAULT_ATTACHER_TIMEOUT_SECONDS = 300;
const DEFAULT_HEALTH_CHECK_GRACE_SECONDS = 300;
/** The attacher needs time for a detach, an attach and the completion. */
const MIN_ATTACHER_TIMEOUT_SECONDS = 60;
/** Function time the attacher keeps back for completing the lifecycle action. */
const COMPLETION_RESERVE_SECONDS = 15;
/** Pause between two looks at an instance or ENI that is changing state. */
const POLL_INTERVAL_MS = 2_000;
/** Attempts per AWS call in the attacher: the SDK's standard retries, throttling included. */
const SDK_MAX_ATTEMPTS = 8;
/** Lambda's async invocation retries; each retry finds the action done (skipped) or redoes it idempotently. */
const ATTACHER_RETRY_ATTEMPTS = 2;

const LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING";
const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";

/** EC2 tag keys: 1..128 of letters, digits, spaces and `_ . : / = + - @`; the `aws:` prefix is reserved. */
const TAG_KEY = /^[\p{L}\p{N} _.:/=+\-@]{1,128}$/u;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The attacher's runtime module with its options, as the artifact starts it. */
export function attacherEntry(options: AttacherOptions) {
  return runtimeEntry(attacherRuntime, options);
}

/**
 * The EventBridge pattern of every launch lifecycle action of this group, whatever its Origin and
 * Destination: with a warm pool the launch hook also holds instances entering the pool
 * (`Warmed:Pending:Wait`), whose action the attacher must complete or the hook's default result,
 * ABANDON, terminates them; and instances leaving the pool for the group (Origin `WarmPool`) need
 * the ENI like new ones
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html,
 * https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html).
 */
export function launchEventPattern(autoScalingGroupName: string): Record<string, unknown> {
  return {
    source: ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-launch Lifecycle Action"],
    detail: { AutoScalingGroupName: [autoScalingGroupName] },
  };
}

/**
 * The pattern of every terminate lifecycle action of this group: an instance terminated from the
 * group (Destination `EC2`) or from the warm pool (Origin `WarmPool`), or returned to the warm pool
 * on scale in (Destination `WarmPool`). Each leaves service, and the hook holds each until its
 * action is completed (same pages as {@link launchEventPattern}).
 */
export function terminateEventPattern(autoScalingGroupName: string): Record<string, unknown> {
  return {
    source: ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
    detail: { AutoScalingGroupName: [autoScalingGroupName] },
  };
}

/**
 * The default boot script for Amazon Linux 2023. The ENI is attached while the instance boots (in
 * `Pending:Wait`); amazon-ec2-net-utils configures a hot-plugged interface by itself (udev +
 * systemd-networkd, with a routing table per interface so replies leave through the interface
 * they came in on, which matters when both interfaces share a subnet). The script makes sure the
 * package is there and waits (up to 5 minutes) until the persistent IP is up, so commands appended
 * after it can bind to it.
 */
export function persistentIpUserData(privateIp: pulumi.Input<string>, then = ""): pulumi.Output<string> {
  return pulumi.interpolate`#!/bin/bash
# PersistentEniAsg: the persistent ENI arrives as device index 1 while this instance is in Pending:Wait.
set -euo pipefail
PERSISTENT_IP="${privateIp}"
rpm -q amazon-ec2-net-utils >/dev/null || dnf install -y amazon-ec2-net-utils
for _ in $(seq 1 60); do
  if ip -4 -o addr show | grep -q "inet \${PERSISTENT_IP}/"; then
    echo "persistent IP \${PERSISTENT_IP} is up"
    break
  fi
  sleep 5
done
${then}`;
}

function isExisting(spec: PersistentEniAsgArgs["networkInterface"]): spec is ExistingPersistentEni {
  return "existingNetworkInterfaceId" in spec;
}

/** Checks every argument and returns the problems found (call `throwIfAny` to raise them). */
export function validatePersistentEniAsgArgs(name: string, args: PersistentEniAsgArgs): ArgumentChecker {
  const owner = ownerLabel("PersistentEniAsg", name);
  const attacher = args.attacher ?? {};
  const checker = validateLambdaFunctionArgs(owner, attacher, "attacher.");
  checkNetworkInterface(checker, args.networkInterface);

  for (const [argument, value] of [
    ["imageId", args.imageId],
    ["instanceType", args.instanceType],
  ] as const) {
    checker.check(
      value !== undefined && value !== "",
      argument,
      value,
      `is required; give the ${argument === "imageId" ? "AMI id" : "instance type"} of the instances.`,
    );
  }
  if (args.tagKey !== undefined) {
    checker.check(
      TAG_KEY.test(args.tagKey) && !args.tagKey.toLowerCase().startsWith("aws:"),
      "tagKey",
      args.tagKey,
      'is not a usable EC2 tag key; use 1..128 letters, digits, spaces and _ . : / = + - @, not starting with "aws:".',
    );
  }
  if (args.autoScalingGroupName !== undefined) {
    checker.check(
      args.autoScalingGroupName.length >= 1 && args.autoScalingGroupName.length <= 255,
      "autoScalingGroupName",
      args.autoScalingGroupName,
      "is not a valid Auto Scaling group name; use 1..255 characters.",
    );
  }

  const minSize = args.minSize ?? 1;
  const maxSize = args.maxSize ?? 1;
  const desired = args.desiredCapacity ?? 1;
  checker
    .check(
      maxSize === 1,
      "maxSize",
      maxSize,
      "is not allowed; one persistent ENI serves one instance, so maxSize must be 1.",
    )
    .integerInRange("minSize", minSize, 0, 1, "one persistent ENI serves one instance, so the group allows")
    .integerInRange("desiredCapacity", desired, 0, 1, "one persistent ENI serves one instance, so the group allows");
  if (Number.isInteger(minSize) && Number.isInteger(desired)) {
    checker.check(
      desired >= minSize,
      "desiredCapacity",
      desired,
      `is below minSize ${minSize}; use at least ${minSize}.`,
    );
  }

  checker
    .integerInRange(
      "heartbeatTimeoutSeconds",
      args.heartbeatTimeoutSeconds,
      30,
      7200,
      "Auto Scaling lifecycle hooks allow",
    )
    .integerInRange(
      "healthCheckGracePeriodSeconds",
      args.healthCheckGracePeriodSeconds,
      0,
      7200,
      "this component allows",
    );
  const timeout = attacher.timeoutSeconds ?? DEFAULT_ATTACHER_TIMEOUT_SECONDS;
  if (Number.isInteger(timeout) && timeout >= 1 && timeout < MIN_ATTACHER_TIMEOUT_SECONDS) {
    checker.check(
      false,
      "attacher.timeoutSeconds",
      timeout,
      `is too short; the attacher needs at least ${MIN_ATTACHER_TIMEOUT_SECONDS} s to wait for a detach and still complete the lifecycle action.`,
    );
  }
  if (Array.isArray(args.alarmActions)) {
    args.alarmActions.forEach((action, i) => {
      if (typeof action === "string") {
        checker.check(
          isArn(action),
          `alarmActions[${i}]`,
          action,
          'is not an ARN; CloudWatch alarm actions are ARNs, e.g. an SNS topic\'s "arn:aws:sns:us-east-1:123456789012:on-call".',
        );
      }
    });
  }
  const maxForce = Math.max(0, timeout - MIN_ATTACHER_TIMEOUT_SECONDS);
  checker.integerInRange(
    "forceDetachAfterSeconds",
    args.forceDetachAfterSeconds,
    0,
    maxForce,
    `attacher.timeoutSeconds (${timeout}) leaves time to attach after a forced detach within`,
  );
  return checker;
}

function checkNetworkInterface(
  checker: ArgumentChecker,
  spec: PersistentEniAsgArgs["networkInterface"] | undefined,
): void {
  const fix =
    "give { subnetId, privateIp, securityGroupIds } to create the persistent ENI, or { existingNetworkInterfaceId } to adopt one.";
  if (spec === undefined || spec === null || typeof spec !== "object") {
    checker.check(false, "networkInterface", spec, `is required; ${fix}`);
    return;
  }
  const creating = ["subnetId", "privateIp", "securityGroupIds", "description", "subnetCidrBlock"].filter(
    (key) => key in spec,
  );
  if (isExisting(spec)) {
    checker.check(
      creating.length === 0,
      "networkInterface",
      Object.keys(spec),
      `mixes adopting an ENI with creating one (${creating.join(", ")}); ${fix}`,
    );
    return;
  }
  checker.check(
    spec.subnetId !== undefined && spec.subnetId !== "",
    "networkInterface.subnetId",
    spec.subnetId,
    `is required; ${fix}`,
  );
  if (spec.privateIp === undefined) {
    checker.check(false, "networkInterface.privateIp", spec.privateIp, `is required; ${fix}`);
  } else if (!IPV4.test(spec.privateIp)) {
    checker.check(
      false,
      "networkInterface.privateIp",
      spec.privateIp,
      'is not an IPv4 address; give a free address of the subnet, e.g. "10.0.1.10".',
    );
  } else if (spec.subnetCidrBlock !== undefined) {
    checkInSubnet(checker, spec.privateIp, spec.subnetCidrBlock);
  }
  checker.check(
    Array.isArray(spec.securityGroupIds) && spec.securityGroupIds.length > 0,
    "networkInterface.securityGroupIds",
    spec.securityGroupIds,
    "must name at least one security group; without one the ENI gets the VPC's default group.",
  );
  if (spec.description !== undefined) {
    checker.check(
      spec.description.length >= 1 && spec.description.length <= 255,
      "networkInterface.description",
      spec.description,
      "is not a usable ENI description; use 1..255 characters, unique in the account and region.",
    );
  }
}

/** The IP must lie in the subnet and not be one of the five addresses AWS reserves (first four, last). */
function checkInSubnet(checker: ArgumentChecker, ip: string, cidr: string): void {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const prefix = match ? Number(match[2]) : -1;
  if (!match || !IPV4.test(match[1]) || prefix < 16 || prefix > 28) {
    checker.check(
      false,
      "networkInterface.subnetCidrBlock",
      cidr,
      'is not a subnet CIDR block; VPC subnets are /16../28, e.g. "10.0.1.0/24".',
    );
    return;
  }
  const size = 2 ** (32 - prefix);
  const network = ipToNumber(match[1]) - (ipToNumber(match[1]) % size);
  const address = ipToNumber(ip);
  if (address < network || address >= network + size) {
    checker.check(
      false,
      "networkInterface.privateIp",
      ip,
      `is outside networkInterface.subnetCidrBlock ${cidr}; give an address of the ENI's subnet.`,
    );
  } else if (address < network + 4 || address === network + size - 1) {
    checker.check(
      false,
      "networkInterface.privateIp",
      ip,
      `is reserved by AWS in ${cidr} (the first four addresses and the last); use one of ${numberToIp(network + 4)}..${numberToIp(network + size - 2)}.`,
    );
  }
}

function ipToNumber(ip: string): number {
  return ip.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

function numberToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/**
 * The attacher's permissions beyond its logs: move this one ENI between instances of this group,
 * complete this group's lifecycle actions, read what it must decide on, and report failed events.
 */
export function attacherPolicyStatements(
  eniArn: string,
  autoScalingGroupName: string,
  failureQueueArn: string,
): aws.iam.PolicyStatement[] {
  const { partition, region, account } = arnParts(eniArn);
  return [
    {
      Sid: "MovePersistentEni",
      Effect: "Allow",
      Action: ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"],
      Resource: [eniArn],
    },
    {
      // Attach and detach also authorize the instance: only instances Auto Scaling tagged as this group's.
      Sid: "MoveEniBetweenOwnInstances",
      Effect: "Allow",
      Action: ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"],
      Resource: [`arn:${partition}:ec2:${region}:${account}:instance/*`],
      Condition: { StringEquals: { "ec2:ResourceTag/aws:autoscaling:groupName": autoScalingGroupName } },
    },
    {
      Sid: "CompleteOwnLifecycleActions",
      Effect: "Allow",
      Action: ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
      Resource: [
        `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${autoScalingGroupName}`,
      ],
    },
    {
      // These Describe actions support no resource-level permissions: `*` is the only form IAM accepts.
      Sid: "DescribeInstancesAndEnis",
      Effect: "Allow",
      Action: ["ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "autoscaling:DescribeAutoScalingInstances"],
      Resource: ["*"],
    },
    {
      // Lambda's on-failure destination sends with the function's role.
      Sid: "ReportFailedEvents",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [failureQueueArn],
    },
  ];
}

/** The ENI as the rest of the component needs it, created or looked up. */
interface PersistentEni {
  id: pulumi.Output<string>;
  arn: pulumi.Output<string>;
  subnetId: pulumi.Output<string>;
  privateIp: pulumi.Output<string>;
  description: pulumi.Output<string>;
  securityGroupIds: pulumi.Output<string[]>;
}

/** An Auto Scaling group whose instance always keeps the same private IP through a persistent secondary ENI. */
export class PersistentEniAsg extends pulumi.ComponentResource {
  /** The ENI, when this component created it. */
  readonly networkInterface?: aws.ec2.NetworkInterface;
  readonly launchTemplate: aws.ec2.LaunchTemplate;
  readonly group: aws.autoscaling.Group;
  readonly attacher: LambdaFunction;
  readonly launchRule: aws.cloudwatch.EventRule;
  /** Events the attacher could not handle after Lambda's retries, with the reason. */
  readonly failureQueue: aws.sqs.Queue;
  /** Alarms as soon as the failure queue holds an event. */
  readonly failureAlarm: aws.cloudwatch.MetricAlarm;

  readonly networkInterfaceId: pulumi.Output<string>;
  /** The persistent private IP. */
  readonly privateIp: pulumi.Output<string>;
  readonly autoScalingGroupName: pulumi.Output<string>;
  readonly autoScalingGroupArn: pulumi.Output<string>;
  readonly attacherFunctionName: pulumi.Output<string>;
  readonly failureQueueUrl: pulumi.Output<string>;

  constructor(name: string, args: PersistentEniAsgArgs, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:aws:PersistentEniAsg", name, {}, opts);
    const owner = ownerLabel("PersistentEniAsg", name);
    validatePersistentEniAsgArgs(name, args).throwIfAny();
    const transform = args.transform ?? {};
    const tagKey = args.tagKey ?? DEFAULT_TAG_KEY;
    const groupName = args.autoScalingGroupName ?? `${pulumi.getProject()}-${pulumi.getStack()}-${name}`;
    const heartbeatTimeoutSeconds = args.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS;
    const launchHookName = `${name}-attach-eni`;
    const terminateHookName = `${name}-release-eni`;

    // 1. The persistent ENI.
    const { eni, resource } = persistentEni(this, name, args.networkInterface, transform.networkInterface);
    this.networkInterface = resource;

    // 2. Where failed events end up, and the attacher.
    this.failureQueue = new aws.sqs.Queue(
      `${name}-failures`,
      applyTransform(transform.failureQueue, deadLetterQueueArgs()),
      { parent: this },
    );
    this.failureAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-failures-alarm`,
      applyTransform(
        transform.alarm,
        deadLetterDepthAlarmArgs({
          queueName: this.failureQueue.name,
          alarmDescription: `${owner}: lifecycle events the attacher could not handle (a launch or release of ${groupName}); see the messages' reasons in the queue.`,
          alarmActions: args.alarmActions,
        }),
      ),
      { parent: this },
    );
    const attacherTimeoutSeconds = args.attacher?.timeoutSeconds ?? DEFAULT_ATTACHER_TIMEOUT_SECONDS;
    this.attacher = new LambdaFunction(
      `${name}-attacher`,
      {
        owner,
        entry: attacherEntry({
          autoScalingGroupName: groupName,
          tagKey,
          pollIntervalMs: POLL_INTERVAL_MS,
          forceDetachAfterMs: (args.forceDetachAfterSeconds ?? DEFAULT_FORCE_DETACH_AFTER_SECONDS) * 1000,
          heartbeatIntervalMs: (heartbeatTimeoutSeconds * 1000) / 2,
          completionReserveMs: COMPLETION_RESERVE_SECONDS * 1000,
          maxAttempts: SDK_MAX_ATTEMPTS,
        }),
        callbacks: { afterAttach: args.afterAttach },
        timeoutSeconds: attacherTimeoutSeconds,
        memorySizeMb: args.attacher?.memorySizeMb,
        logRetentionDays: args.attacher?.logRetentionDays,
        runtime: args.attacher?.runtime,
        awsSdk: args.attacher?.awsSdk,
        permissions: args.attacher?.permissions,
        policyStatements: pulumi
          .all([eni.arn, this.failureQueue.arn])
          .apply(([eniArn, queueArn]) => attacherPolicyStatements(eniArn, groupName, queueArn)),
        transform: transform.attacher,
      },
      { parent: this },
    );
    // An event older than the hook's heartbeat is for an action that already timed out.
    const maximumEventAgeInSeconds = Math.max(60, heartbeatTimeoutSeconds);
    const invokeConfig = new aws.lambda.FunctionEventInvokeConfig(
      `${name}-attacher-invoke`,
      {
        functionName: this.attacher.name,
        maximumRetryAttempts: ATTACHER_RETRY_ATTEMPTS,
        maximumEventAgeInSeconds,
        destinationConfig: { onFailure: { destination: this.failureQueue.arn } },
      },
      { parent: this },
    );

    // 3. The rules that deliver this group's lifecycle events; they exist before the group's first launch.
    this.launchRule = new aws.cloudwatch.EventRule(
      `${name}-launch`,
      applyTransform(transform.launchRule, {
        description: `${owner}: launch lifecycle actions of ${groupName} -> attach the persistent ENI`,
        eventPattern: JSON.stringify(launchEventPattern(groupName)),
      }),
      { parent: this },
    );
    const terminateRule = args.detachOnTerminate
      ? new aws.cloudwatch.EventRule(
          `${name}-terminate`,
          {
            description: `${owner}: terminate lifecycle actions of ${groupName} -> release the persistent ENI early`,
            eventPattern: JSON.stringify(terminateEventPattern(groupName)),
          },
          { parent: this },
        )
      : undefined;
    const rules = terminateRule ? [this.launchRule, terminateRule] : [this.launchRule];
    const delivery = [
      ...this.deliverTo(`${name}-launch`, this.launchRule, maximumEventAgeInSeconds),
      ...(terminateRule ? this.deliverTo(`${name}-terminate`, terminateRule, maximumEventAgeInSeconds) : []),
    ];
    new aws.sqs.QueuePolicy(
      `${name}-failures-policy`,
      {
        queueUrl: this.failureQueue.url,
        policy: pulumi
          .all([this.failureQueue.arn, ...rules.map((rule) => rule.arn)])
          .apply(([queueArn, ...ruleArns]) => JSON.stringify(failureQueuePolicy(queueArn, ruleArns))),
      },
      { parent: this },
    );

    // 4. The launch template and the group, pinned to the ENI's subnet.
    this.launchTemplate = new aws.ec2.LaunchTemplate(
      `${name}-template`,
      applyTransform(transform.launchTemplate, {
        imageId: args.imageId,
        instanceType: args.instanceType,
        vpcSecurityGroupIds: args.instanceSecurityGroupIds ?? eni.securityGroupIds,
        iamInstanceProfile: args.instanceProfileArn ? { arn: args.instanceProfileArn } : undefined,
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        userData: pulumi
          .output(args.userData ?? persistentIpUserData(eni.privateIp))
          .apply((script) => Buffer.from(script, "utf8").toString("base64")),
        tagSpecifications: [{ resourceType: "instance", tags: { Name: groupName, [tagKey]: eni.description } }],
        updateDefaultVersion: true,
      }),
      { parent: this },
    );

    const initialLifecycleHooks: aws.types.input.autoscaling.GroupInitialLifecycleHook[] = [
      {
        name: launchHookName,
        lifecycleTransition: LAUNCHING,
        defaultResult: "ABANDON",
        heartbeatTimeout: heartbeatTimeoutSeconds,
      },
    ];
    if (args.detachOnTerminate) {
      // For a terminating instance both results terminate it; CONTINUE also lets any other terminate hooks run.
      initialLifecycleHooks.push({
        name: terminateHookName,
        lifecycleTransition: TERMINATING,
        defaultResult: "CONTINUE",
        heartbeatTimeout: heartbeatTimeoutSeconds,
      });
    }
    const targetGroupArns = args.targetGroupArns ?? [];
    this.group = new aws.autoscaling.Group(
      `${name}-group`,
      applyTransform(transform.group, {
        name: groupName,
        minSize: args.minSize ?? 1,
        maxSize: args.maxSize ?? 1,
        desiredCapacity: args.desiredCapacity ?? 1,
        vpcZoneIdentifiers: [eni.subnetId],
        launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.apply(String) },
        targetGroupArns,
        healthCheckType: pulumi.output(targetGroupArns).apply((arns) => (arns.length > 0 ? "ELB" : "EC2")),
        healthCheckGracePeriod: args.healthCheckGracePeriodSeconds ?? DEFAULT_HEALTH_CHECK_GRACE_SECONDS,
        // Part of the group's creation, so its very first instance already waits for the attacher.
        initialLifecycleHooks,
      }),
      {
        parent: this,
        // The rules, targets and invoke permission must exist before the first launch event.
        dependsOn: [...delivery, invokeConfig],
        // A fixed name cannot be created before the old group is deleted.
        deleteBeforeReplace: true,
        // In the provider @pulumi/aws bridges, any change to initial_lifecycle_hook forces a new group
        // (ForceNew since https://github.com/hashicorp/terraform-provider-aws/pull/34260), which would
        // terminate the running instance: an outage. Only name and name_prefix are ForceNew besides
        // (internal/service/autoscaling/group.go). The LifecycleHook resources below apply hook changes.
        ignoreChanges: ["initialLifecycleHooks"],
      },
    );
    // `initialLifecycleHooks` apply at creation only (and the group ignores later changes to them);
    // these resources own the hooks from then on: a changed heartbeat or an added or removed terminate
    // hook is a PutLifecycleHook or DeleteLifecycleHook on the running group.
    for (const hook of initialLifecycleHooks) {
      new aws.autoscaling.LifecycleHook(
        hook.name === launchHookName ? `${name}-launch-hook` : `${name}-terminate-hook`,
        { autoscalingGroupName: this.group.name, ...hook },
        { parent: this },
      );
    }

    this.networkInterfaceId = eni.id;
    this.privateIp = eni.privateIp;
    this.autoScalingGroupName = this.group.name;
    this.autoScalingGroupArn = this.group.arn;
    this.attacherFunctionName = this.attacher.name;
    this.failureQueueUrl = this.failureQueue.url;
    this.registerOutputs({
      networkInterfaceId: this.networkInterfaceId,
      privateIp: this.privateIp,
      autoScalingGroupName: this.autoScalingGroupName,
      autoScalingGroupArn: this.autoScalingGroupArn,
      attacherFunctionName: this.attacherFunctionName,
      failureQueueUrl: this.failureQueueUrl,
    });
  }

  /** A target to the attacher for `rule`, and the permission for EventBridge to invoke it from that rule only. */
  private deliverTo(
    ruleName: string,
    rule: aws.cloudwatch.EventRule,
    maximumEventAgeInSeconds: number,
  ): pulumi.Resource[] {
    const target = new aws.cloudwatch.EventTarget(
      `${ruleName}-target`,
      {
        rule: rule.name,
        arn: this.attacher.arn,
        retryPolicy: { maximumEventAgeInSeconds, maximumRetryAttempts: 185 },
        deadLetterConfig: { arn: this.failureQueue.arn },
      },
      { parent: this },
    );
    const permission = new aws.lambda.Permission(
      `${ruleName}-invoke`,
      {
        action: "lambda:InvokeFunction",
        function: this.attacher.name,
        principal: "events.amazonaws.com",
        sourceArn: rule.arn,
      },
      { parent: this },
    );
    return [target, permission];
  }
}

/** The ENI created from `spec`, or the existing one looked up, as the rest of the component needs it. */
function persistentEni(
  parent: pulumi.Resource,
  name: string,
  spec: PersistentEniAsgArgs["networkInterface"],
  transform: Transform<aws.ec2.NetworkInterfaceArgs> | undefined,
): { eni: PersistentEni; resource?: aws.ec2.NetworkInterface } {
  if (isExisting(spec)) {
    const found = aws.ec2.getNetworkInterfaceOutput({ id: spec.existingNetworkInterfaceId }, { parent });
    const owner = ownerLabel("PersistentEniAsg", name);
    const description = found.apply((eni) => {
      if (!eni.description) {
        throw new Error(
          `${owner}: networkInterface.existingNetworkInterfaceId ${JSON.stringify(eni.id)} has no description; ` +
            "give the ENI a description unique in the account and region: instances carry it in their tag.",
        );
      }
      return eni.description;
    });
    return {
      eni: {
        id: found.id,
        arn: found.arn,
        subnetId: found.subnetId,
        privateIp: found.privateIp,
        description,
        securityGroupIds: found.securityGroups,
      },
    };
  }
  const description = spec.description ?? `${pulumi.getProject()}/${pulumi.getStack()}/${name} persistent ENI`;
  const resource = new aws.ec2.NetworkInterface(
    `${name}-eni`,
    applyTransform(transform, {
      subnetId: spec.subnetId,
      privateIps: [spec.privateIp],
      securityGroups: spec.securityGroupIds,
      description,
      tags: { Name: `${name}-persistent-eni` },
    }),
    { parent },
  );
  return {
    resource,
    eni: {
      id: resource.id,
      arn: resource.arn,
      subnetId: resource.subnetId,
      privateIp: pulumi.output(spec.privateIp),
      description: resource.description.apply((value) => value ?? description),
      securityGroupIds: pulumi.output(spec.securityGroupIds),
    },
  };
}

/** Only EventBridge, from this component's rules, may put undeliverable events; only over TLS. */
function failureQueuePolicy(queueArn: string, ruleArns: string[]): aws.iam.PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      denyInsecureTransport(queueArn, "sqs:*"),
      {
        Sid: "EventBridgeDeadLetters",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
      },
    ],
  };
}
