/**
 * PersistentEniAsg's settings: every default applied and every argument checked, in one pass.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkAlarmActionArns, checkTargetGroupArns } from "../aws/arn";
import { checkInSubnet, isIpv4 } from "../aws/ipv4";
import { LAMBDA_FUNCTION_NAMES, type LambdaFunctionSettings, validateLambdaFunctionArgs } from "../aws/lambda-function";
import { checkExisting, type CreateOrUse, usesExisting } from "../core/existing";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { ArgumentChecker, ownerLabel, type Settled } from "../core/validation";
import type { AttacherOptions } from "../../runtime/persistent-eni-asg/contract";
import { DEFAULTS, type NewPersistentEni, type PersistentEniAsgArgs } from "./args";

/** The attacher needs time for a detach, an attach and the completion. */
const MIN_FUNCTION_TIMEOUT_SECONDS = 60;
/** Function time the attacher keeps back for completing the lifecycle action. */
const COMPLETION_RESERVE_SECONDS = 15;
/** Pause between two looks at an instance or ENI that is changing state. */
const POLL_INTERVAL_MS = 2_000;
/** Attempts per AWS call in the attacher: the SDK's standard retries, throttling included. */
const SDK_MAX_ATTEMPTS = 8;

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

const NETWORK_INTERFACE_FIX =
  'give { subnetId, privateIp, securityGroupIds } to create the persistent ENI, or { existing: "eni-..." } to use one.';

/** The arguments a default applies to, or that the settings hold in another form. */
type Defaulted =
  | "networkInterface"
  | "autoScalingGroupName"
  | "tagKey"
  | "minSize"
  | "maxSize"
  | "desiredCapacity"
  | "healthCheckGracePeriodSeconds"
  | "heartbeatTimeoutSeconds"
  | "forceDetachAfterSeconds"
  | "targetGroupArns"
  | "detachOnTerminate"
  | "function"
  | "transform";

/** The arguments with every default applied, and what the component derives from them. */
export interface PersistentEniAsgSettings extends Omit<PersistentEniAsgArgs, Defaulted> {
  /** The ENI to create (its description defaulted), or the existing one's id. */
  networkInterface: CreateOrUse<NewPersistentEni & { description: string }, pulumi.Input<string>>;
  autoScalingGroupName: string;
  tagKey: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  healthCheckGracePeriodSeconds: number;
  heartbeatTimeoutSeconds: number;
  forceDetachAfterSeconds: number;
  targetGroupArns: pulumi.Input<pulumi.Input<string>[]>;
  detachOnTerminate: boolean;
  /** The attacher's function settings, its timeout defaulted. */
  function: LambdaFunctionSettings & { timeoutSeconds: number };
  transform: NonNullable<PersistentEniAsgArgs["transform"]>;
  /** The attacher's options, fixed in its artifact. */
  attacher: AttacherOptions;
  /** How old a lifecycle event may get on its way to the attacher: an older one's action has timed out. */
  maximumEventAgeInSeconds: number;
}

/** The settings of a PersistentEniAsg named `name`, and every problem with its arguments. */
export function persistentEniAsgSettings(name: string, args: PersistentEniAsgArgs): Settled<PersistentEniAsgSettings> {
  const owner = ownerLabel("PersistentEniAsg", name);
  const autoScalingGroupName = args.autoScalingGroupName ?? `${pulumi.getProject()}-${pulumi.getStack()}-${name}`;
  const heartbeatTimeoutSeconds = args.heartbeatTimeoutSeconds ?? DEFAULTS.heartbeatTimeoutSeconds;
  const timeoutSeconds = args.function?.timeoutSeconds ?? DEFAULTS.functionTimeoutSeconds;
  const forceDetachAfterSeconds = args.forceDetachAfterSeconds ?? DEFAULTS.forceDetachAfterSeconds;
  const settings: PersistentEniAsgSettings = {
    ...args,
    networkInterface: usesExisting(args.networkInterface)
      ? args.networkInterface
      : {
          ...args.networkInterface,
          description:
            args.networkInterface?.description ?? `${pulumi.getProject()}/${pulumi.getStack()}/${name} persistent ENI`,
        },
    autoScalingGroupName,
    tagKey: args.tagKey ?? DEFAULTS.tagKey,
    minSize: args.minSize ?? DEFAULTS.minSize,
    maxSize: args.maxSize ?? DEFAULTS.maxSize,
    desiredCapacity: args.desiredCapacity ?? DEFAULTS.desiredCapacity,
    healthCheckGracePeriodSeconds: args.healthCheckGracePeriodSeconds ?? DEFAULTS.healthCheckGracePeriodSeconds,
    heartbeatTimeoutSeconds,
    forceDetachAfterSeconds,
    targetGroupArns: args.targetGroupArns ?? [],
    detachOnTerminate: args.detachOnTerminate ?? false,
    function: { ...args.function, timeoutSeconds },
    transform: args.transform ?? {},
    attacher: {
      autoScalingGroupName,
      pollIntervalMs: POLL_INTERVAL_MS,
      forceDetachAfterMs: forceDetachAfterSeconds * 1000,
      heartbeatIntervalMs: (heartbeatTimeoutSeconds * 1000) / 2,
      completionReserveMs: COMPLETION_RESERVE_SECONDS * 1000,
      maxAttempts: SDK_MAX_ATTEMPTS,
    },
    maximumEventAgeInSeconds: Math.max(60, heartbeatTimeoutSeconds),
  };

  const checker = new ArgumentChecker(owner).include(
    validateLambdaFunctionArgs(owner, args.function ?? {}, "function."),
  );
  checkDerivedNames(checker, "PersistentEniAsg", name, PERSISTENT_ENI_ASG_NAMES);
  checkNetworkInterface(checker, args.networkInterface);
  for (const [argument, value, what] of [
    ["imageId", args.imageId, "AMI id"],
    ["instanceType", args.instanceType, "instance type"],
  ] as const) {
    checker.check(
      value !== undefined && value !== "",
      argument,
      value,
      `is required; give the ${what} of the instances.`,
    );
  }
  checker
    .check(
      args.tagKey === undefined || (TAG_KEY.test(args.tagKey) && !args.tagKey.toLowerCase().startsWith("aws:")),
      "tagKey",
      args.tagKey,
      'is not a usable EC2 tag key; use 1..128 letters, digits, spaces and _ . : / = + - @, not starting with "aws:".',
    )
    .check(
      args.autoScalingGroupName === undefined ||
        (args.autoScalingGroupName.length >= 1 && args.autoScalingGroupName.length <= 255),
      "autoScalingGroupName",
      args.autoScalingGroupName,
      "is not a valid Auto Scaling group name; use 1..255 characters.",
    );

  const { minSize, desiredCapacity } = settings;
  checker
    .check(
      settings.maxSize === 1,
      "maxSize",
      settings.maxSize,
      "is not allowed; one persistent ENI serves one instance, so maxSize must be 1.",
    )
    .integerInRange("minSize", minSize, 0, 1, "one persistent ENI serves one instance, so the group allows")
    .integerInRange(
      "desiredCapacity",
      desiredCapacity,
      0,
      1,
      "one persistent ENI serves one instance, so the group allows",
    );
  if (Number.isInteger(minSize) && Number.isInteger(desiredCapacity)) {
    checker.check(
      desiredCapacity >= minSize,
      "desiredCapacity",
      desiredCapacity,
      `is below minSize ${minSize}; use at least ${minSize}.`,
    );
  }

  checker
    .integerInRange("heartbeatTimeoutSeconds", heartbeatTimeoutSeconds, 30, 7200, "Auto Scaling lifecycle hooks allow")
    .integerInRange(
      "healthCheckGracePeriodSeconds",
      settings.healthCheckGracePeriodSeconds,
      0,
      7200,
      "this component allows",
    )
    .check(
      checker.has("function.timeoutSeconds") || timeoutSeconds >= MIN_FUNCTION_TIMEOUT_SECONDS,
      "function.timeoutSeconds",
      timeoutSeconds,
      `is too short; the attacher needs at least ${MIN_FUNCTION_TIMEOUT_SECONDS} s to wait for a detach and still complete the lifecycle action.`,
    )
    .check(
      args.afterAttach === undefined || typeof args.afterAttach === "function",
      "afterAttach",
      args.afterAttach,
      "must be a function: async ({ instanceId, networkInterfaceId, privateIp }, signal) => void.",
    );
  checkAlarmActionArns(checker, args.alarmActions);
  checkTargetGroupArns(checker, args.targetGroupArns);
  checker.integerInRange(
    "forceDetachAfterSeconds",
    args.forceDetachAfterSeconds,
    0,
    Math.max(0, timeoutSeconds - MIN_FUNCTION_TIMEOUT_SECONDS),
    `function.timeoutSeconds (${timeoutSeconds}) leaves time to attach after a forced detach within`,
  );
  return { settings, problems: checker };
}

/** The persistent ENI's spec: a complete one to create, or an existing ENI's id alone. */
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
  // EC2 ids are the type's prefix and hexadecimal digits (8 or 17): subnet-0123456789abcdef0.
  checker.check(
    typeof spec.subnetId !== "string" || spec.subnetId === "" || /^subnet-[0-9a-f]+$/.test(spec.subnetId),
    "networkInterface.subnetId",
    spec.subnetId,
    'is not a subnet id; give the id ("subnet-0123456789abcdef0", a Subnet\'s id output), not its ARN, name or CIDR block.',
  );
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
  checker
    .check(
      Array.isArray(spec.securityGroupIds) && spec.securityGroupIds.length > 0,
      "networkInterface.securityGroupIds",
      spec.securityGroupIds,
      "must name at least one security group; without one the ENI gets the VPC's default group.",
    )
    .check(
      spec.description === undefined || (spec.description.length >= 1 && spec.description.length <= 255),
      "networkInterface.description",
      spec.description,
      "is not a usable ENI description; use 1..255 characters, unique in the account and region.",
    );
}
