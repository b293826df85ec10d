/**
 * The AWS building block for every SQS queue this library creates: encrypted at rest (SSE-SQS), a
 * queue policy that refuses plain HTTP and lets in only the one service that must send to it, from
 * this component's sources only, and for a queue of what failed, the alarm that calls a human.
 * Its children are the caller's children, named after the queue (`<queue>-policy`, `<queue>-alarm`).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  deadLetterDepthAlarmArgs,
  deadLetterQueueArgs,
  denyInsecureTransport,
  SQS_MANAGED_ENCRYPTION,
} from "./secure-defaults";
import { applyTransform, type Transform } from "../core/transform";

/** A service allowed to send to the queue, and only on behalf of these resources. */
export interface QueueSender {
  /** Names the statement: `AllowTopicToDeliver`. */
  sid: string;
  /** The service principal: `sns.amazonaws.com`, `events.amazonaws.com`. */
  service: string;
  /** The resources it sends for (`aws:SourceArn`): the topic, the rules. */
  sourceArns: pulumi.Input<pulumi.Input<string>[]>;
}

export interface SecureQueueArgs {
  /** The queue's settings; SSE-SQS is added unless they choose a KMS key. */
  queue: aws.sqs.QueueArgs;
  /** Who besides the account's own IAM principals may send. @default nobody */
  sender?: QueueSender;
  transform?: { queue?: Transform<aws.sqs.QueueArgs>; policy?: Transform<aws.sqs.QueuePolicyArgs> };
}

export interface SecureQueue {
  queue: aws.sqs.Queue;
  policy: aws.sqs.QueuePolicy;
}

/** A queue with SSE-SQS and its TLS-only policy (plus `sender`'s statement). */
export function secureQueue(name: string, args: SecureQueueArgs, opts: pulumi.CustomResourceOptions): SecureQueue {
  const queue = new aws.sqs.Queue(
    name,
    applyTransform(args.transform?.queue, { ...SQS_MANAGED_ENCRYPTION, ...args.queue }),
    opts,
  );
  const policy = new aws.sqs.QueuePolicy(
    `${name}-policy`,
    applyTransform(args.transform?.policy, {
      queueUrl: queue.url,
      policy: pulumi
        .all([queue.arn, args.sender?.sourceArns ?? []])
        .apply(([queueArn, sourceArns]) => JSON.stringify(queuePolicy(queueArn, args.sender, sourceArns))),
    }),
    opts,
  );
  return { queue, policy };
}

/** The queue's policy: TLS only, and `sender` from its sources. */
export function queuePolicy(
  queueArn: string,
  sender: QueueSender | undefined,
  sourceArns: string[],
): aws.iam.PolicyDocument {
  const statements: aws.iam.PolicyStatement[] = [denyInsecureTransport(queueArn, "sqs:*")];
  if (sender) {
    statements.push({
      Sid: sender.sid,
      Effect: "Allow",
      Principal: { Service: sender.service },
      Action: "sqs:SendMessage",
      Resource: queueArn,
      Condition: { ArnEquals: { "aws:SourceArn": sourceArns.length === 1 ? sourceArns[0] : sourceArns } },
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

export interface FailureQueueArgs {
  /** Settings beyond a failure queue's own (14 days' retention, SSE-SQS), e.g. `fifoQueue`. */
  queue?: aws.sqs.QueueArgs;
  sender?: QueueSender;
  /** Says what the queue's messages are, for whoever the alarm wakes. */
  alarmDescription: string;
  /** Where the alarm notifies. @default none: the alarm only changes state */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  transform?: SecureQueueArgs["transform"] & { alarm?: Transform<aws.cloudwatch.MetricAlarmArgs> };
}

export interface FailureQueue extends SecureQueue {
  alarm: aws.cloudwatch.MetricAlarm;
}

/**
 * A queue of what failed (dead letters, failed events): a secure queue that keeps messages as long as
 * SQS allows, with an alarm as soon as it holds one.
 */
export function failureQueue(name: string, args: FailureQueueArgs, opts: pulumi.CustomResourceOptions): FailureQueue {
  const { queue, policy } = secureQueue(
    name,
    { queue: { ...deadLetterQueueArgs(), ...args.queue }, sender: args.sender, transform: args.transform },
    opts,
  );
  const alarm = new aws.cloudwatch.MetricAlarm(
    `${name}-alarm`,
    applyTransform(
      args.transform?.alarm,
      deadLetterDepthAlarmArgs({
        queueName: queue.name,
        alarmDescription: args.alarmDescription,
        alarmActions: args.alarmActions,
      }),
    ),
    opts,
  );
  return { queue, policy, alarm };
}
