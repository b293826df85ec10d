/**
 * ARNs the components take as arguments, one check per resource type, each following the ARN
 * format its service documents in the Service Authorization Reference. The general shape is
 * `arn:<partition>:<service>:<region>:<account>:<resource>`
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html); partitions are `aws`,
 * `aws-cn`, `aws-us-gov` and the like.
 */
import type { ArgumentChecker } from "../core/validation";

/** The sections of an ARN the components build other ARNs and conditions from. */
export interface ArnParts {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

/** `arn:aws:sns:us-east-1:123456789012:on-call` -> its sections (region and account may be empty). */
export function arnParts(arn: string): ArnParts {
  const [, partition, service, region, account, ...resource] = arn.split(":");
  return { partition, service, region, account, resource: resource.join(":") };
}

/**
 * Any ARN: six sections, the resource non-empty. Region and account may be empty (IAM, S3) or not
 * an account id (CloudWatch's EC2 actions, `arn:aws:automate:<region>:ec2:stop`).
 */
export function isArn(value: string): boolean {
  return /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[^:]*:.+$/.test(value);
}

/**
 * An SNS topic: `arn:${Partition}:sns:${Region}:${Account}:${TopicName}`, the name letters,
 * digits, `-` and `_`, with `.fifo` for a FIFO topic
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html#amazonsns-resources-for-iam-policies).
 */
export function isSnsTopicArn(value: string): boolean {
  return /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?$/.test(value);
}

/**
 * A Secrets Manager secret: `arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}`
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html#awssecretsmanager-resources-for-iam-policies),
 * complete (the name, `-` and six random characters) or partial (the name only).
 */
export function isSecretsManagerSecretArn(value: string): boolean {
  return /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(value);
}

/**
 * Whether a secret ARN is complete: the name, `-` and six characters. Secrets Manager reads an ARN
 * ending so as complete too
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen).
 */
export function isCompleteSecretArn(secretArn: string): boolean {
  return /:secret:.+-[A-Za-z0-9]{6}$/.test(secretArn);
}

/**
 * Records a problem for each known entry of an `alarmActions` argument that is not an ARN: a
 * CloudWatch alarm action is an ARN (an SNS topic, an Auto Scaling policy, an EC2 action, ...;
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
 * Entries still unknown at preview are left to the service.
 */
export function checkAlarmActionArns(checker: ArgumentChecker, alarmActions: unknown): void {
  if (!Array.isArray(alarmActions)) return;
  alarmActions.forEach((action: unknown, i) => {
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

/**
 * An Elastic Load Balancing target group:
 * `arn:${Partition}:elasticloadbalancing:${Region}:${Account}:targetgroup/${TargetGroupName}/${TargetGroupId}`
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html#awselasticloadbalancingv2-resources-for-iam-policies).
 */
export function isTargetGroupArn(value: string): boolean {
  return /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]+$/.test(
    value,
  );
}

/**
 * Records a problem for each known entry of a `targetGroupArns` argument that is not a target group
 * ARN (an SNS topic's, a load balancer's). Entries still unknown at preview are left to Auto Scaling.
 */
export function checkTargetGroupArns(checker: ArgumentChecker, targetGroupArns: unknown): void {
  if (!Array.isArray(targetGroupArns)) return;
  targetGroupArns.forEach((targetGroupArn: unknown, i) => {
    if (typeof targetGroupArn !== "string") return;
    const service = isArn(targetGroupArn) ? arnParts(targetGroupArn).service : undefined;
    checker.check(
      isTargetGroupArn(targetGroupArn),
      `targetGroupArns[${i}]`,
      targetGroupArn,
      `is not a target group ARN${service && service !== "elasticloadbalancing" ? ` (it is ${service}'s)` : ""}; give an ` +
        'Elastic Load Balancing target group\'s ARN, "arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>" ' +
        "(a TargetGroup's arn output).",
    );
  });
}
