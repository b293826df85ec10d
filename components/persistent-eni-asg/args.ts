/**
 * The arguments of PersistentEniAsg, with their defaults. The docs' argument table is generated from
 * this TSDoc (scripts/docs.ts), so each default is named here once, beside its value in `DEFAULTS`.
 */
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { LambdaFunctionSettings, LambdaFunctionTransform } from "../aws/lambda-function";
import type { CreateOrUse } from "../core/existing";
import type { Transform } from "../core/transform";
import type { AfterAttach } from "../../runtime/persistent-eni-asg/contract";

export type { AfterAttach, AfterAttachInput } from "../../runtime/persistent-eni-asg/contract";

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

/** The defaults of the arguments, as their `@default` tags above name them. */
export const DEFAULTS = {
  tagKey: "Eth1",
  minSize: 1,
  maxSize: 1,
  desiredCapacity: 1,
  healthCheckGracePeriodSeconds: 300,
  heartbeatTimeoutSeconds: 300,
  forceDetachAfterSeconds: 60,
  functionTimeoutSeconds: 300,
} as const;
