/**
 * What each part of a ScheduledNotifier may do: the functions' role statements, the scheduler
 * role's trust and permissions, and the ledger bucket's policy.
 */
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LEDGER_PREFIX } from "../../runtime/scheduled-notifier/contract";
import { arnParts, isCompleteSecretArn } from "../aws/arn";

/** The queues the producer writes to, by ARN. */
export interface ProducerResources {
  jobsQueueArn: pulumi.Input<string>;
  deadLetterQueueArn: pulumi.Input<string>;
  failedRunsQueueArn: pulumi.Input<string>;
}

/** Exactly what the producer does: enqueue jobs, dead-letter rejected recipients, report its failed runs. */
export function producerPolicyStatements(resources: ProducerResources): pulumi.Input<aws.iam.PolicyStatement[]> {
  return [
    { Sid: "SendJobs", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [resources.jobsQueueArn] },
    {
      Sid: "DeadLetterRejectedRecipients",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [resources.deadLetterQueueArn],
    },
    {
      // Lambda delivers a run's final failure to the failed-runs queue with the function's role.
      Sid: "ReportFailedRuns",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [resources.failedRunsQueueArn],
    },
  ] as pulumi.Input<aws.iam.PolicyStatement[]>;
}

/**
 * What a policy must name to grant `secretArn`. IAM authorizes a request against the secret's
 * complete ARN, the name followed by `-` and six random characters
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html), so a
 * partial ARN granted as given matches nothing and every read is denied. For a partial ARN the grant
 * is `<ARN>-??????`, the pattern Secrets Manager documents for one secret by name
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/permissions_grant-limited-resources.html);
 * `-*` would also match other secrets whose names merely start the same.
 */
export function secretGrantResource(secretArn: string): string {
  return isCompleteSecretArn(secretArn) ? secretArn : `${secretArn}-??????`;
}

/** The resources the consumer works on, by ARN. */
export interface ConsumerResources {
  jobsQueueArn: string;
  deadLetterQueueArn: string;
  ledgerBucketArn: string;
  secretArn: string;
  /** The secret's customer managed KMS key, if any. */
  secretKmsKeyArn?: string;
}

/** Exactly what the consumer does: consume jobs, dead-letter them, use the ledger, read the token. */
export function consumerPolicyStatements(resources: ConsumerResources): aws.iam.PolicyStatement[] {
  const { jobsQueueArn, deadLetterQueueArn, ledgerBucketArn, secretArn, secretKmsKeyArn } = resources;
  const statements: aws.iam.PolicyStatement[] = [
    {
      Sid: "ConsumeJobs",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
      Resource: [jobsQueueArn],
    },
    { Sid: "DeadLetterJobs", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [deadLetterQueueArn] },
    {
      Sid: "UseDeliveryLedger",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject"],
      Resource: [`${ledgerBucketArn}/${LEDGER_PREFIX}*`],
    },
    {
      // S3 answers a read of a missing key with 404 NoSuchKey only to a caller allowed s3:ListBucket on
      // the bucket, and with 403 AccessDenied to any other
      // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"). The ledger
      // reads records that may have expired and must tell "gone" from "denied". Not narrowed by
      // s3:prefix: S3 does not document that key for that check, and the bucket holds only ledger records.
      Sid: "TellMissingLedgerRecords",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [ledgerBucketArn],
    },
    {
      Sid: "ReadApiToken",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [secretGrantResource(secretArn)],
    },
  ];
  if (secretKmsKeyArn) {
    statements.push({
      Sid: "DecryptApiToken",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [secretKmsKeyArn],
      // Only when Secrets Manager asks on the consumer's behalf, in the secret's region.
      Condition: {
        StringEquals: { "kms:ViaService": `secretsmanager.${arnParts(secretArn).region}.amazonaws.com` },
      },
    });
  }
  return statements;
}

/** The scheduler role's trust policy: EventBridge Scheduler, for schedules of the producer's account only. */
export function schedulerTrustPolicy(producerArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        // Only schedules of this account may use the role (confused-deputy protection).
        Condition: { StringEquals: { "aws:SourceAccount": arnParts(producerArn).account } },
      },
    ],
  });
}

/** What the schedule does with its role: start a run, and report a run it could not start. */
export function schedulerPolicy(resources: {
  producerArn: pulumi.Input<string>;
  failedRunsQueueArn: pulumi.Input<string>;
}): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "InvokeProducer",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: [resources.producerArn],
      },
      {
        // Scheduler delivers its dead-letter events with the schedule's role.
        Sid: "ReportFailedRuns",
        Effect: "Allow",
        Action: ["sqs:SendMessage"],
        Resource: [resources.failedRunsQueueArn],
      },
    ],
  });
}
