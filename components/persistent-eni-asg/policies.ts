/**
 * PersistentEniAsg's event patterns and the attacher's IAM statements.
 */
import type * as aws from "@pulumi/aws";
import { arnParts } from "../aws/arn";
import { LAUNCH_DETAIL_TYPE, TERMINATE_DETAIL_TYPE } from "../../runtime/persistent-eni-asg/contract";

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
  return lifecycleEventPattern(LAUNCH_DETAIL_TYPE, autoScalingGroupName);
}

/**
 * The pattern of every terminate lifecycle action of this group: an instance terminated from the
 * group (Destination `EC2`) or from the warm pool (Origin `WarmPool`), or returned to the warm pool
 * on scale in (Destination `WarmPool`). Each leaves service, and the hook holds each until its
 * action is completed (same pages as {@link launchEventPattern}).
 */
export function terminateEventPattern(autoScalingGroupName: string): Record<string, unknown> {
  return lifecycleEventPattern(TERMINATE_DETAIL_TYPE, autoScalingGroupName);
}

function lifecycleEventPattern(detailType: string, autoScalingGroupName: string): Record<string, unknown> {
  return {
    source: ["aws.autoscaling"],
    "detail-type": [detailType],
    detail: { AutoScalingGroupName: [autoScalingGroupName] },
  };
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
