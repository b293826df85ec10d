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
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LambdaFunction } from "../aws/lambda-function";
import { failureQueue } from "../aws/secure-queue";
import { runtimeEntry } from "../core/artifact";
import { PatternComponent, whenReported } from "../core/component";
import { usesExisting } from "../core/existing";
import { runtimeFactory } from "../core/runtime-factory";
import { applyTransform } from "../core/transform";
import { type ArgumentChecker, InvalidArgumentsError } from "../core/validation";
import type * as runtime from "../../runtime/persistent-eni-asg";
import {
  type AttacherOptions,
  FAILURE_QUEUE_URL_ENV,
  LAUNCHING,
  PERSISTENT_ENI_ID_ENV,
  TERMINATING,
} from "../../runtime/persistent-eni-asg/contract";
import type { PersistentEniAsgArgs } from "./args";
import { attacherPolicyStatements, launchEventPattern, terminateEventPattern } from "./policies";
import { type PersistentEniAsgSettings, persistentEniAsgSettings } from "./settings";
import { persistentIpUserData } from "./user-data";

export type { AfterAttach, AfterAttachInput, NewPersistentEni, PersistentEniAsgArgs } from "./args";
export { persistentIpUserData } from "./user-data";

const ATTACHER = runtimeFactory<typeof runtime>(require.resolve("../../runtime/persistent-eni-asg"))("createAttacher");

/** Lambda's async invocation retries; each retry finds the action done (skipped) or redoes it idempotently. */
const ATTACHER_RETRY_ATTEMPTS = 2;

/**
 * The instance tag that carries the persistent ENI's id (`eni-...`), beside the description under
 * `tagKey`. It changes when the ENI is replaced, so the launch template changes with it.
 */
export const PERSISTENT_ENI_ID_TAG = "queue-patterns:persistent-eni-id";

/** Checks every argument and returns the problems found (call `throwIfAny` to raise them). */
export function validatePersistentEniAsgArgs(name: string, args: PersistentEniAsgArgs): ArgumentChecker {
  return persistentEniAsgSettings(name, args).problems;
}

/** The attacher's runtime module with its options, as the artifact starts it. */
export function attacherEntry(options: AttacherOptions) {
  return runtimeEntry(ATTACHER, options);
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
    const { settings, problems } = persistentEniAsgSettings(name, args);
    super("aws", "PersistentEniAsg", name, problems, opts);

    const { eni, resource } = this.createOrFindEni(name, settings);
    this.networkInterface = resource;
    this.launchRule = this.createLaunchRule(name, settings);
    const terminateRule = settings.detachOnTerminate ? this.createTerminateRule(name, settings) : undefined;
    const failures = this.createFailureQueue(name, settings, terminateRule);
    this.failureQueue = failures.queue;
    this.alarm = failures.alarm;
    this.function = this.createAttacher(name, eni, settings);
    const retries = this.configureRetries(name, settings);
    const delivery = [
      ...this.deliverTo(`${name}-launch`, this.launchRule, settings),
      ...(terminateRule ? this.deliverTo(`${name}-terminate`, terminateRule, settings) : []),
      retries,
    ];
    this.launchTemplate = this.createLaunchTemplate(name, eni, settings);
    this.group = this.createGroup(name, eni, settings, delivery);
    this.createLifecycleHooks(name, settings);

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

  /** The ENI created from the settings, or the existing one looked up, as the rest of the component needs it. */
  private createOrFindEni(
    name: string,
    { networkInterface: spec, transform }: PersistentEniAsgSettings,
  ): { eni: PersistentEni; resource?: aws.ec2.NetworkInterface } {
    if (usesExisting(spec)) {
      const found = aws.ec2.getNetworkInterfaceOutput({ id: spec.existing }, this.child);
      // A lookup that reports no ARN (a mock echoing its inputs) says nothing of the description either.
      const description = found.apply((eni) =>
        whenReported([eni.arn], () => {
          if (!eni.description) {
            throw new InvalidArgumentsError(this.owner, [
              {
                argument: "networkInterface.existing",
                value: eni.id,
                fix:
                  "has no description; give the ENI a description unique in the account and region: " +
                  "instances carry it in their tag.",
              },
            ]);
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
    const resource = new aws.ec2.NetworkInterface(
      `${name}-eni`,
      applyTransform(transform.networkInterface, {
        subnetId: spec.subnetId,
        privateIps: [spec.privateIp],
        securityGroups: spec.securityGroupIds,
        description: spec.description,
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
        description: resource.description.apply((value) => value ?? spec.description),
        securityGroupIds: pulumi.output(spec.securityGroupIds),
      },
    };
  }

  /** The rule that delivers this group's launch lifecycle actions; it exists before the group's first launch. */
  private createLaunchRule(name: string, { autoScalingGroupName, transform }: PersistentEniAsgSettings) {
    return new aws.cloudwatch.EventRule(
      `${name}-launch`,
      applyTransform(transform.launchRule, {
        description: `${this.owner}: launch lifecycle actions of ${autoScalingGroupName} -> attach the persistent ENI`,
        eventPattern: JSON.stringify(launchEventPattern(autoScalingGroupName)),
      }),
      this.child,
    );
  }

  /** The rule that delivers this group's terminate lifecycle actions, with `detachOnTerminate`. */
  private createTerminateRule(name: string, { autoScalingGroupName }: PersistentEniAsgSettings) {
    return new aws.cloudwatch.EventRule(
      `${name}-terminate`,
      {
        description: `${this.owner}: terminate lifecycle actions of ${autoScalingGroupName} -> release the persistent ENI early`,
        eventPattern: JSON.stringify(terminateEventPattern(autoScalingGroupName)),
      },
      this.child,
    );
  }

  /** Where failed events end up: what the rules could not deliver, and what the attacher failed. */
  private createFailureQueue(
    name: string,
    { autoScalingGroupName, alarmActions, transform }: PersistentEniAsgSettings,
    terminateRule: aws.cloudwatch.EventRule | undefined,
  ) {
    const rules = terminateRule ? [this.launchRule, terminateRule] : [this.launchRule];
    return failureQueue(
      `${name}-failures`,
      {
        sender: {
          sid: "EventBridgeDeadLetters",
          service: "events.amazonaws.com",
          sourceArns: rules.map((rule) => rule.arn),
        },
        alarmDescription: `${this.owner}: lifecycle events the attacher could not handle (a launch or release of ${autoScalingGroupName}); see the messages' reasons in the queue.`,
        alarmActions,
        transform: { queue: transform.failureQueue, alarm: transform.alarm },
      },
      this.child,
    );
  }

  /** The attacher: the ENI's id and the failure queue in its environment, allowed to move this ENI only. */
  private createAttacher(name: string, eni: PersistentEni, settings: PersistentEniAsgSettings): LambdaFunction {
    const groupName = settings.autoScalingGroupName;
    return new LambdaFunction(
      `${name}-attacher`,
      {
        ...settings.function,
        owner: this.owner,
        entry: attacherEntry(settings.attacher),
        callbacks: { afterAttach: settings.afterAttach },
        environment: {
          [PERSISTENT_ENI_ID_ENV]: eni.id,
          [FAILURE_QUEUE_URL_ENV]: this.failureQueue.url,
        },
        policyStatements: pulumi
          .all([eni.arn, this.failureQueue.arn])
          .apply(([eniArn, queueArn]) =>
            whenReported([eniArn, queueArn], () => attacherPolicyStatements(eniArn, groupName, queueArn)),
          ),
        transform: settings.transform.function,
      },
      this.child,
    );
  }

  /** Lambda's retries of the attacher's events, and where an event goes once they are spent. */
  private configureRetries(name: string, { maximumEventAgeInSeconds }: PersistentEniAsgSettings) {
    return new aws.lambda.FunctionEventInvokeConfig(
      `${name}-attacher-invoke`,
      {
        functionName: this.function.name,
        maximumRetryAttempts: ATTACHER_RETRY_ATTEMPTS,
        maximumEventAgeInSeconds,
        destinationConfig: { onFailure: { destination: this.failureQueue.arn } },
      },
      this.child,
    );
  }

  /** A target to the attacher for `rule`, and the permission for EventBridge to invoke it from that rule only. */
  private deliverTo(
    ruleName: string,
    rule: aws.cloudwatch.EventRule,
    { maximumEventAgeInSeconds }: PersistentEniAsgSettings,
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

  /** The instances' template: the persistent IP's boot script, and the ENI's description and id as tags. */
  private createLaunchTemplate(name: string, eni: PersistentEni, settings: PersistentEniAsgSettings) {
    return new aws.ec2.LaunchTemplate(
      `${name}-template`,
      applyTransform(settings.transform.launchTemplate, {
        imageId: settings.imageId,
        instanceType: settings.instanceType,
        vpcSecurityGroupIds: settings.instanceSecurityGroupIds ?? eni.securityGroupIds,
        iamInstanceProfile: settings.instanceProfileArn ? { arn: settings.instanceProfileArn } : undefined,
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        userData: pulumi
          .output(settings.userData ?? persistentIpUserData(eni.privateIp))
          .apply((script) => Buffer.from(script, "utf8").toString("base64")),
        tagSpecifications: [
          {
            resourceType: "instance",
            // The ENI's id too: a replaced ENI changes the template, which cycles the instance (createGroup).
            tags: {
              Name: settings.autoScalingGroupName,
              [settings.tagKey]: eni.description,
              [PERSISTENT_ENI_ID_TAG]: eni.id,
            },
          },
        ],
        updateDefaultVersion: true,
      }),
      this.child,
    );
  }

  /** The group, pinned to the ENI's subnet, created once everything its first launch needs exists. */
  private createGroup(
    name: string,
    eni: PersistentEni,
    settings: PersistentEniAsgSettings,
    delivery: pulumi.Resource[],
  ): aws.autoscaling.Group {
    const { targetGroupArns } = settings;
    return new aws.autoscaling.Group(
      `${name}-group`,
      applyTransform(settings.transform.group, {
        name: settings.autoScalingGroupName,
        minSize: settings.minSize,
        maxSize: settings.maxSize,
        desiredCapacity: settings.desiredCapacity,
        vpcZoneIdentifiers: [eni.subnetId],
        launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.apply(String) },
        targetGroupArns,
        healthCheckType: pulumi.output(targetGroupArns).apply((arns) => (arns.length > 0 ? "ELB" : "EC2")),
        healthCheckGracePeriod: settings.healthCheckGracePeriodSeconds,
        // Part of the group's creation, so its very first instance already waits for the attacher.
        initialLifecycleHooks: lifecycleHooks(name, settings).map(({ hook }) => hook),
        // A new template version (a replaced ENI, another image) starts a refresh
        // (terraform-provider-aws internal/service/autoscaling/group.go: a launch_template change sets
        // shouldRefreshInstances): the instance is replaced and the attacher attaches the current ENI
        // to the new one. The old instance goes first: only one instance can hold the ENI.
        instanceRefresh: { strategy: "Rolling", preferences: { minHealthyPercentage: 0 } },
      }),
      {
        ...this.child,
        // The targets, invoke permissions and retry settings must exist before the first launch event.
        dependsOn: delivery,
        // A fixed name cannot be created before the old group is deleted.
        deleteBeforeReplace: true,
        // In the provider @pulumi/aws bridges, any change to initial_lifecycle_hook forces a new group
        // (ForceNew since https://github.com/hashicorp/terraform-provider-aws/pull/34260), which would
        // terminate the running instance: an outage. Only name and name_prefix are ForceNew besides
        // (internal/service/autoscaling/group.go). The LifecycleHook resources below apply hook changes.
        ignoreChanges: ["initialLifecycleHooks"],
      },
    );
  }

  /**
   * `initialLifecycleHooks` apply at creation only (and the group ignores later changes to them);
   * these resources own the hooks from then on: a changed heartbeat or an added or removed terminate
   * hook is a PutLifecycleHook or DeleteLifecycleHook on the running group.
   */
  private createLifecycleHooks(name: string, settings: PersistentEniAsgSettings): void {
    for (const { resourceName, hook } of lifecycleHooks(name, settings)) {
      new aws.autoscaling.LifecycleHook(resourceName, { autoscalingGroupName: this.group.name, ...hook }, this.child);
    }
  }
}

/** The group's lifecycle hooks, each with the name of the LifecycleHook resource that owns it. */
function lifecycleHooks(
  name: string,
  { heartbeatTimeoutSeconds, detachOnTerminate }: PersistentEniAsgSettings,
): { resourceName: string; hook: aws.types.input.autoscaling.GroupInitialLifecycleHook }[] {
  const hooks = [
    {
      resourceName: `${name}-launch-hook`,
      hookName: `${name}-attach-eni`,
      transition: LAUNCHING,
      defaultResult: "ABANDON",
    },
  ];
  if (detachOnTerminate) {
    // For a terminating instance both results terminate it; CONTINUE also lets any other terminate hooks run.
    hooks.push({
      resourceName: `${name}-terminate-hook`,
      hookName: `${name}-release-eni`,
      transition: TERMINATING,
      defaultResult: "CONTINUE",
    });
  }
  return hooks.map(({ resourceName, hookName, transition, defaultResult }) => ({
    resourceName,
    hook: { name: hookName, lifecycleTransition: transition, defaultResult, heartbeatTimeout: heartbeatTimeoutSeconds },
  }));
}
