/**
 * PersistentEniAsg: an Auto Scaling group (normally of one instance, behind a load balancer) whose
 * instance always answers at the same private IP inside the VPC.
 *
 * A persistent secondary ENI holds the IP. Instances carry its description in a tag (`Eth1` by
 * default). A launch lifecycle hook (default result ABANDON) holds each new instance in
 * `Pending:Wait`; an EventBridge rule sends the hook's event to the attacher Lambda, which describes
 * the ENI by its id (in its environment), takes it from a leaving predecessor if needed, attaches it
 * at device index 1 and completes the lifecycle action: CONTINUE, or ABANDON on any failure, so an
 * instance without the IP never enters service; a failed action also goes to the failure queue,
 * whose alarm goes off. An ENI lives in one Availability Zone, so the group is
 * pinned to the ENI's subnet.
 */

import { runtimeFactory } from "../core/runtime-factory";
import type * as runtime from "../../runtime/persistent-eni-asg";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  type AfterAttach,
  type AttacherOptions,
  FAILURE_QUEUE_URL_ENV,
  PERSISTENT_ENI_ID_ENV,
} from "../../runtime/persistent-eni-asg/attacher";
import { runtimeEntry } from "../core/artifact";
import { PatternComponent, whenReported } from "../core/component";
import { checkExisting, type CreateOrUse, usesExisting } from "../core/existing";
import {
  LAMBDA_FUNCTION_NAMES,
  LambdaFunction,
  type LambdaFunctionSettings,
  type LambdaFunctionTransform,
  validateLambdaFunctionArgs,
} from "../aws/lambda-function";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { failureQueue } from "../aws/secure-queue";
import { applyTransform, type Transform } from "../core/transform";
import { arnParts, checkAlarmActionArns, checkTargetGroupArns } from "../aws/arn";
import { checkInSubnet, isIpv4 } from "../aws/ipv4";
import { type ArgumentChecker, ownerLabel } from "../core/validation";

export type { AfterAttach, AfterAttachInput } from "../../runtime/persistent-eni-asg/attacher";

const ATTACHER = runtimeFactory<typeof runtime>(require.resolve("../../runtime/persistent-eni-asg"))("createAttacher");

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

export interface PersistentEniAsgArgs {
  /**
   * The persistent ENI: the settings to create it, or `{ existing: <its id> }` to use an ENI that
   * exists, whose subnet, description, IP and security groups are looked up. An existing ENI's
   * description must be set and unique in the account and region.
   * @example { subnetId: subnet.id, privateIp: "10.0.1.10", securityGroupIds: [appSecurityGroup.id] }
   * @example { existing: "eni-0123456789abcdef0" }
   */
  networkInterface: CreateOrUse<NewPersistentEni, pulumi.Input<string>>;
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
   * The settings of the function that attaches the ENI and runs `afterAttach` (the attacher).
   * `timeoutSeconds` is at least 60: time to wait for a detach and still complete the lifecycle
   * action. `permissions` adds what `afterAttach` calls need to the function's role, one Allow
   * statement each.
   * @default LambdaFunction's defaults, but `timeoutSeconds` 300
   * @example { permissions: [{ actions: ["route53:ChangeResourceRecordSets"], resources: [zone.arn] }] }
   */
  function?: LambdaFunctionSettings;
  /**
   * Where the failure queue's alarm notifies (e.g. SNS topic ARNs): any event there is a launch or
   * release nobody handled.
   * @default none: the alarm only changes state
   * @example [onCall.arn]
   */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /** Escape hatches: change what this component did not foresee. */
  transform?: {
    /** The ENI this component creates (none with `networkInterface.existing`). */
    networkInterface?: Transform<aws.ec2.NetworkInterfaceArgs>;
    launchTemplate?: Transform<aws.ec2.LaunchTemplateArgs>;
    group?: Transform<aws.autoscaling.GroupArgs>;
    /** The EventBridge rule of the launch lifecycle actions. */
    launchRule?: Transform<aws.cloudwatch.EventRuleArgs>;
    /** The queue of the events the attacher could not handle. */
    failureQueue?: Transform<aws.sqs.QueueArgs>;
    /** The failure queue's alarm. */
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    /** The attacher function's children: the function, its role, its log group. */
    function?: LambdaFunctionTransform;
  };
}

/** The defaults of the arguments (their TSDoc names the same values). */
const DEFAULTS = {
  tagKey: "Eth1",
  minSize: 1,
  maxSize: 1,
  desiredCapacity: 1,
  healthCheckGracePeriodSeconds: 300,
  heartbeatTimeoutSeconds: 300,
  forceDetachAfterSeconds: 60,
  functionTimeoutSeconds: 300,
} as const;
/** The attacher needs time for a detach, an attach and the completion. */
const MIN_FUNCTION_TIMEOUT_SECONDS = 60;
/** Function time the attacher keeps back for completing the lifecycle action. */
const COMPLETION_RESERVE_SECONDS = 15;
/** Pause between two looks at an instance or ENI that is changing state. */
const POLL_INTERVAL_MS = 2_000;
/** Attempts per AWS call in the attacher: the SDK's standard retries, throttling included. */
const SDK_MAX_ATTEMPTS = 8;
/** Lambda's async invocation retries; each retry finds the action done (skipped) or redoes it idempotently. */
const ATTACHER_RETRY_ATTEMPTS = 2;

/**
 * The instance tag that carries the persistent ENI's id (`eni-...`), beside the description under
 * `tagKey`. It changes when the ENI is replaced, so the launch template changes with it.
 */
export const PERSISTENT_ENI_ID_TAG = "queue-patterns:persistent-eni-id";

const LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING";
const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";

/** EC2 tag keys: 1..128 of letters, digits, spaces and `_ . : / = + - @`; the `aws:` prefix is reserved. */
const TAG_KEY = /^[\p{L}\p{N} _.:/=+\-@]{1,128}$/u;

/**
 * The physical names a group derives from its name. The group's own name (`<project>-<stack>-<name>`,
 * 255 characters, any characters) and the launch template's (128) are never the tighter bound.
 */
const PERSISTENT_ENI_ASG_NAMES: readonly DerivedName[] = [
  ...prefixed("-attacher", LAMBDA_FUNCTION_NAMES),
  derived("<name>-failures", NAME_RULES.sqsQueue),
  derived("<name>-launch", NAME_RULES.eventRule),
  derived("<name>-terminate", NAME_RULES.eventRule),
  derived("<name>-attach-eni", NAME_RULES.lifecycleHook),
  derived("<name>-release-eni", NAME_RULES.lifecycleHook),
];

/** Checks every argument and returns the problems found (call `throwIfAny` to raise them). */
export function validatePersistentEniAsgArgs(name: string, args: PersistentEniAsgArgs): ArgumentChecker {
  const settings = args.function ?? {};
  const checker = validateLambdaFunctionArgs(ownerLabel("PersistentEniAsg", name), settings, "function.");
  checkDerivedNames(checker, "PersistentEniAsg", name, PERSISTENT_ENI_ASG_NAMES);
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

  const minSize = args.minSize ?? DEFAULTS.minSize;
  const maxSize = args.maxSize ?? DEFAULTS.maxSize;
  const desired = args.desiredCapacity ?? DEFAULTS.desiredCapacity;
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
  const timeout = settings.timeoutSeconds ?? DEFAULTS.functionTimeoutSeconds;
  if (Number.isInteger(timeout) && timeout >= 1 && timeout < MIN_FUNCTION_TIMEOUT_SECONDS) {
    checker.check(
      false,
      "function.timeoutSeconds",
      timeout,
      `is too short; the attacher needs at least ${MIN_FUNCTION_TIMEOUT_SECONDS} s to wait for a detach and still complete the lifecycle action.`,
    );
  }
  checkAlarmActionArns(checker, args.alarmActions);
  checkTargetGroupArns(checker, args.targetGroupArns);
  const maxForce = Math.max(0, timeout - MIN_FUNCTION_TIMEOUT_SECONDS);
  checker.integerInRange(
    "forceDetachAfterSeconds",
    args.forceDetachAfterSeconds,
    0,
    maxForce,
    `function.timeoutSeconds (${timeout}) leaves time to attach after a forced detach within`,
  );
  return checker;
}

const NETWORK_INTERFACE_FIX =
  'give { subnetId, privateIp, securityGroupIds } to create the persistent ENI, or { existing: "eni-..." } to use one.';

function checkNetworkInterface(
  checker: ArgumentChecker,
  spec: PersistentEniAsgArgs["networkInterface"] | undefined,
): void {
  if (spec === undefined || spec === null || typeof spec !== "object") {
    checker.check(false, "networkInterface", spec, `is required; ${NETWORK_INTERFACE_FIX}`);
    return;
  }
  if (usesExisting(spec)) {
    checkExisting(checker, "networkInterface", spec, "persistent ENI");
    return;
  }
  checker.check(
    spec.subnetId !== undefined && spec.subnetId !== "",
    "networkInterface.subnetId",
    spec.subnetId,
    `is required; ${NETWORK_INTERFACE_FIX}`,
  );
  if (typeof spec.subnetId === "string" && spec.subnetId !== "") {
    // EC2 ids are the type's prefix and hexadecimal digits (8 or 17): subnet-0123456789abcdef0.
    checker.check(
      /^subnet-[0-9a-f]+$/.test(spec.subnetId),
      "networkInterface.subnetId",
      spec.subnetId,
      'is not a subnet id; give the id ("subnet-0123456789abcdef0", a Subnet\'s id output), not its ARN, name or CIDR block.',
    );
  }
  if (spec.privateIp === undefined) {
    checker.check(false, "networkInterface.privateIp", spec.privateIp, `is required; ${NETWORK_INTERFACE_FIX}`);
  } else if (!isIpv4(spec.privateIp)) {
    checker.check(
      false,
      "networkInterface.privateIp",
      spec.privateIp,
      'is not an IPv4 address; give a free address of the subnet, e.g. "10.0.1.10".',
    );
  } else if (spec.subnetCidrBlock !== undefined) {
    checkInSubnet(
      checker,
      { ip: "networkInterface.privateIp", cidr: "networkInterface.subnetCidrBlock", subnet: "the ENI's subnet" },
      spec.privateIp,
      spec.subnetCidrBlock,
    );
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

/** The attacher's runtime module with its options, as the artifact starts it. */
export function attacherEntry(options: AttacherOptions) {
  return runtimeEntry(ATTACHER, options);
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
      // Lambda's on-failure destination sends with the function's role, and so does the attacher
      // when it reports a failed action.
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
export class PersistentEniAsg extends PatternComponent {
  /** The ENI, when this component created it. */
  readonly networkInterface?: aws.ec2.NetworkInterface;
  readonly launchTemplate: aws.ec2.LaunchTemplate;
  readonly group: aws.autoscaling.Group;
  /** The attacher: attaches the ENI to each new instance and runs `afterAttach`. */
  readonly function: LambdaFunction;
  readonly launchRule: aws.cloudwatch.EventRule;
  /** Events the attacher could not handle after Lambda's retries, with the reason. */
  readonly failureQueue: aws.sqs.Queue;
  /** Alarms as soon as the failure queue holds an event. */
  readonly alarm: aws.cloudwatch.MetricAlarm;

  readonly networkInterfaceId: pulumi.Output<string>;
  /** The persistent private IP. */
  readonly privateIp: pulumi.Output<string>;
  readonly autoScalingGroupName: pulumi.Output<string>;
  readonly autoScalingGroupArn: pulumi.Output<string>;
  /** The attacher function's name. */
  readonly functionName: pulumi.Output<string>;
  readonly failureQueueUrl: pulumi.Output<string>;

  constructor(name: string, args: PersistentEniAsgArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aws", "PersistentEniAsg", name, validatePersistentEniAsgArgs(name, args), opts);
    const transform = args.transform ?? {};
    const tagKey = args.tagKey ?? DEFAULTS.tagKey;
    const groupName = args.autoScalingGroupName ?? `${pulumi.getProject()}-${pulumi.getStack()}-${name}`;
    const heartbeatTimeoutSeconds = args.heartbeatTimeoutSeconds ?? DEFAULTS.heartbeatTimeoutSeconds;
    const launchHookName = `${name}-attach-eni`;
    const terminateHookName = `${name}-release-eni`;

    // 1. The persistent ENI.
    const { eni, resource } = this.persistentEni(name, args.networkInterface, transform.networkInterface);
    this.networkInterface = resource;

    // 2. The rules that deliver this group's lifecycle events; they exist before the group's first launch.
    this.launchRule = new aws.cloudwatch.EventRule(
      `${name}-launch`,
      applyTransform(transform.launchRule, {
        description: `${this.owner}: launch lifecycle actions of ${groupName} -> attach the persistent ENI`,
        eventPattern: JSON.stringify(launchEventPattern(groupName)),
      }),
      this.child,
    );
    const terminateRule = args.detachOnTerminate
      ? new aws.cloudwatch.EventRule(
          `${name}-terminate`,
          {
            description: `${this.owner}: terminate lifecycle actions of ${groupName} -> release the persistent ENI early`,
            eventPattern: JSON.stringify(terminateEventPattern(groupName)),
          },
          this.child,
        )
      : undefined;
    const rules = terminateRule ? [this.launchRule, terminateRule] : [this.launchRule];

    // 3. Where failed events end up: what the rules could not deliver, and what the attacher failed.
    const failures = failureQueue(
      `${name}-failures`,
      {
        sender: {
          sid: "EventBridgeDeadLetters",
          service: "events.amazonaws.com",
          sourceArns: rules.map((rule) => rule.arn),
        },
        alarmDescription: `${this.owner}: lifecycle events the attacher could not handle (a launch or release of ${groupName}); see the messages' reasons in the queue.`,
        alarmActions: args.alarmActions,
        transform: { queue: transform.failureQueue, alarm: transform.alarm },
      },
      this.child,
    );
    this.failureQueue = failures.queue;
    this.alarm = failures.alarm;

    // 4. The attacher, and its delivery from the rules.
    this.function = new LambdaFunction(
      `${name}-attacher`,
      {
        ...args.function,
        owner: this.owner,
        entry: attacherEntry({
          autoScalingGroupName: groupName,
          pollIntervalMs: POLL_INTERVAL_MS,
          forceDetachAfterMs: (args.forceDetachAfterSeconds ?? DEFAULTS.forceDetachAfterSeconds) * 1000,
          heartbeatIntervalMs: (heartbeatTimeoutSeconds * 1000) / 2,
          completionReserveMs: COMPLETION_RESERVE_SECONDS * 1000,
          maxAttempts: SDK_MAX_ATTEMPTS,
        }),
        callbacks: { afterAttach: args.afterAttach },
        environment: {
          [PERSISTENT_ENI_ID_ENV]: eni.id,
          [FAILURE_QUEUE_URL_ENV]: this.failureQueue.url,
        },
        timeoutSeconds: args.function?.timeoutSeconds ?? DEFAULTS.functionTimeoutSeconds,
        policyStatements: pulumi
          .all([eni.arn, this.failureQueue.arn])
          .apply(([eniArn, queueArn]) =>
            whenReported([eniArn, queueArn], () => attacherPolicyStatements(eniArn, groupName, queueArn)),
          ),
        transform: transform.function,
      },
      this.child,
    );
    // An event older than the hook's heartbeat is for an action that already timed out.
    const maximumEventAgeInSeconds = Math.max(60, heartbeatTimeoutSeconds);
    const invokeConfig = new aws.lambda.FunctionEventInvokeConfig(
      `${name}-attacher-invoke`,
      {
        functionName: this.function.name,
        maximumRetryAttempts: ATTACHER_RETRY_ATTEMPTS,
        maximumEventAgeInSeconds,
        destinationConfig: { onFailure: { destination: this.failureQueue.arn } },
      },
      this.child,
    );
    const delivery = [
      ...this.deliverTo(`${name}-launch`, this.launchRule, maximumEventAgeInSeconds),
      ...(terminateRule ? this.deliverTo(`${name}-terminate`, terminateRule, maximumEventAgeInSeconds) : []),
    ];

    // 5. The launch template and the group, pinned to the ENI's subnet.
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
        tagSpecifications: [
          {
            resourceType: "instance",
            // The ENI's id too: a replaced ENI changes the template, which cycles the instance (below).
            tags: { Name: groupName, [tagKey]: eni.description, [PERSISTENT_ENI_ID_TAG]: eni.id },
          },
        ],
        updateDefaultVersion: true,
      }),
      this.child,
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
        minSize: args.minSize ?? DEFAULTS.minSize,
        maxSize: args.maxSize ?? DEFAULTS.maxSize,
        desiredCapacity: args.desiredCapacity ?? DEFAULTS.desiredCapacity,
        vpcZoneIdentifiers: [eni.subnetId],
        launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.apply(String) },
        targetGroupArns,
        healthCheckType: pulumi.output(targetGroupArns).apply((arns) => (arns.length > 0 ? "ELB" : "EC2")),
        healthCheckGracePeriod: args.healthCheckGracePeriodSeconds ?? DEFAULTS.healthCheckGracePeriodSeconds,
        // Part of the group's creation, so its very first instance already waits for the attacher.
        initialLifecycleHooks,
        // A new template version (a replaced ENI, another image) starts a refresh
        // (terraform-provider-aws internal/service/autoscaling/group.go: a launch_template change sets
        // shouldRefreshInstances): the instance is replaced and the attacher attaches the current ENI
        // to the new one. The old instance goes first: only one instance can hold the ENI.
        instanceRefresh: { strategy: "Rolling", preferences: { minHealthyPercentage: 0 } },
      }),
      {
        ...this.child,
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
        this.child,
      );
    }

    this.networkInterfaceId = eni.id;
    this.privateIp = eni.privateIp;
    this.autoScalingGroupName = this.group.name;
    this.autoScalingGroupArn = this.group.arn;
    this.functionName = this.function.name;
    this.failureQueueUrl = this.failureQueue.url;
    this.registerOutputsOf(
      "networkInterfaceId",
      "privateIp",
      "autoScalingGroupName",
      "autoScalingGroupArn",
      "functionName",
      "failureQueueUrl",
    );
  }

  /** The ENI created from `spec`, or the existing one looked up, as the rest of the component needs it. */
  private persistentEni(
    name: string,
    spec: PersistentEniAsgArgs["networkInterface"],
    transform: Transform<aws.ec2.NetworkInterfaceArgs> | undefined,
  ): { eni: PersistentEni; resource?: aws.ec2.NetworkInterface } {
    if (usesExisting(spec)) {
      const found = aws.ec2.getNetworkInterfaceOutput({ id: spec.existing }, this.child);
      // A lookup that reports no ARN (a mock echoing its inputs) says nothing of the description either.
      const description = found.apply((eni) =>
        whenReported([eni.arn], () => {
          if (!eni.description) {
            throw new Error(
              `${this.owner}: networkInterface.existing ${JSON.stringify(eni.id)} has no description; ` +
                "give the ENI a description unique in the account and region: instances carry it in their tag.",
            );
          }
          return eni.description;
        }),
      );
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
      // A new subnet or IP replaces the ENI (vpc_network_interface.go: subnet_id ForceNew, ForceNewIf
      // on private_ips). The old one goes first, force-detached: two ENIs with one description would
      // leave a launch ambiguous, and the instance refresh gives the new ENI a new instance.
      { ...this.child, deleteBeforeReplace: true },
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
        arn: this.function.arn,
        retryPolicy: { maximumEventAgeInSeconds, maximumRetryAttempts: 185 },
        deadLetterConfig: { arn: this.failureQueue.arn },
      },
      this.child,
    );
    const permission = new aws.lambda.Permission(
      `${ruleName}-invoke`,
      {
        action: "lambda:InvokeFunction",
        function: this.function.name,
        principal: "events.amazonaws.com",
        sourceArn: rule.arn,
      },
      this.child,
    );
    return [target, permission];
  }
}
