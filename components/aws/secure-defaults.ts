/**
 * Secure defaults the AWS components share: the TLS-only resource-policy statement, queue
 * encryption at rest, how long queues of failed messages keep them, and the alarm that calls a
 * human when such a queue is not empty. One definition, so the components cannot drift apart.
 */
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/**
 * A resource-policy statement that denies every request made without TLS. IAM policies cannot
 * require TLS of callers the component does not control; the resource's own policy can, for every
 * principal. `resources` and `actions` are written as given: a single ARN or action stays a string.
 * Give every action of the resource: `sqs:*` for a queue, `s3:*` for a bucket and its objects,
 * {@link SNS_TOPIC_POLICY_ACTIONS} for a topic.
 */
export function denyInsecureTransport(
  resources: pulumi.Input<string> | pulumi.Input<string>[],
  actions: string | string[],
): aws.iam.PolicyStatement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: actions,
    Resource: resources,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/**
 * Every action an SNS topic policy can name, from "Valid Amazon SNS policy actions"
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html).
 * A topic policy takes no other action: SNS refuses one outside this list with "Policy statement
 * action out of service scope" (e.g. sns:CreateTopic, sns:SetSubscriptionAttributes), and AWS's own
 * TLS-only example names actions rather than `sns:*`
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html#enforce-encryption-data-in-transit).
 * `sns:Publish` also authorizes PublishBatch.
 */
export const SNS_TOPIC_POLICY_ACTIONS = [
  "sns:AddPermission",
  "sns:DeleteTopic",
  "sns:GetDataProtectionPolicy",
  "sns:GetTopicAttributes",
  "sns:ListSubscriptionsByTopic",
  "sns:ListTagsForResource",
  "sns:Publish",
  "sns:PutDataProtectionPolicy",
  "sns:RemovePermission",
  "sns:SetTopicAttributes",
  "sns:Subscribe",
];

/**
 * SSE-SQS: encryption at rest under keys SQS manages, with no KMS key policy to grant. SNS cannot
 * deliver to a queue under the AWS-managed `alias/aws/sqs` key, whose policy cannot be changed.
 */
export const SQS_MANAGED_ENCRYPTION = { sqsManagedSseEnabled: true } as const;

/** SQS's longest message retention (14 days): the most time for a human to look at what failed. */
export const MAX_MESSAGE_RETENTION_SECONDS = 1_209_600;

/** A standard queue for what failed (dead letters, failed events): encrypted, kept as long as SQS allows. */
export function deadLetterQueueArgs(): aws.sqs.QueueArgs {
  return { ...SQS_MANAGED_ENCRYPTION, messageRetentionSeconds: MAX_MESSAGE_RETENTION_SECONDS };
}

/**
 * An alarm on a dead-letter queue's depth: any message there needs a human, so one visible message
 * (the minute's maximum above 0) alarms at once. SQS stops sending the metric for a queue idle for
 * hours; missing data is an empty queue, not a breach.
 */
export function deadLetterDepthAlarmArgs(args: {
  queueName: pulumi.Input<string>;
  /** Says what the queue's messages are, for whoever is woken by the alarm. */
  alarmDescription: string;
  alarmActions: aws.cloudwatch.MetricAlarmArgs["alarmActions"];
}): aws.cloudwatch.MetricAlarmArgs {
  return {
    alarmDescription: args.alarmDescription,
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    dimensions: { QueueName: args.queueName },
    statistic: "Maximum",
    period: 60,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    alarmActions: args.alarmActions,
  };
}
