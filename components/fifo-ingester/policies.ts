/** FifoIngester's IAM statements and resource policies. */
import type * as aws from "@pulumi/aws";
import { denyInsecureTransport, SNS_TOPIC_POLICY_ACTIONS } from "../aws/secure-defaults";

/** The function's permissions beyond logs and traces: consume its queue; dead-letter what can never succeed. */
export function consumerStatements(queueArn: string, deadLetterQueueArn: string): aws.iam.PolicyStatement[] {
  return [
    {
      Sid: "ConsumeQueue",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
      Resource: [queueArn],
    },
    {
      // Malformed JSON bodies, and records the callback rejects (RejectMessage) in either body format.
      Sid: "DeadLetterRejectedRecords",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [deadLetterQueueArn],
    },
  ];
}

/** The created topic refuses requests without TLS; same-account principals publish through their IAM policies. */
export function topicPolicy(topicArn: string): aws.iam.PolicyDocument {
  return { Version: "2012-10-17", Statement: [denyInsecureTransport(topicArn, SNS_TOPIC_POLICY_ACTIONS)] };
}
