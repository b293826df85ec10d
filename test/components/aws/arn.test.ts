import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ArgumentChecker } from "../../../components/core/validation";
import {
  arnParts,
  checkAlarmActionArns,
  isArn,
  isCompleteSecretArn,
  isSecretsManagerSecretArn,
  isSnsTopicArn,
} from "../../../components/aws/arn";

type Row = [input: string, expected: boolean];

function table(name: string, check: (value: string) => boolean, rows: Row[]): void {
  describe(name, () => {
    for (const [input, expected] of rows) {
      it(`${JSON.stringify(input)} -> ${expected}`, () => {
        assert.equal(check(input), expected);
      });
    }
  });
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
table("isArn", isArn, [
  ["arn:aws:sns:us-east-1:123456789012:on-call", true],
  ["arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:1a2b:autoScalingGroupName/web:policyName/up", true],
  // CloudWatch's EC2 alarm actions have "ec2" where an account would be.
  ["arn:aws:automate:us-east-1:ec2:stop", true],
  ["arn:aws:iam::123456789012:instance-profile/web", true],
  ["arn:aws-cn:sns:cn-north-1:123456789012:on-call", true],
  ["on-call", false],
  ["arn:", false],
  ["arn:aws:sns", false],
  ["arn:aws:sns:us-east-1:123456789012:", false],
]);

// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html#amazonsns-resources-for-iam-policies
table("isSnsTopicArn", isSnsTopicArn, [
  ["arn:aws:sns:eu-west-1:123456789012:on-call", true],
  ["arn:aws:sns:eu-west-1:123456789012:listings.fifo", true],
  ["arn:aws-us-gov:sns:us-gov-west-1:123456789012:on_call-2", true],
  ["arn:aws:sqs:eu-west-1:123456789012:on-call", false],
  ["arn:aws:sns:eu-west-1:12345678901:on-call", false],
  ["arn:aws:sns:eu-west-1:123456789012:on.call", false],
  ["arn:aws:sns:eu-west-1:123456789012:on-call:subscription-id", false],
  ["on-call", false],
]);

// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html#awssecretsmanager-resources-for-iam-policies
table("isSecretsManagerSecretArn", isSecretsManagerSecretArn, [
  ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token-AbCdEf", true],
  ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token", true],
  ["arn:aws:secretsmanager:eu-west-1:123456789012:messaging-token", false],
  ["arn:aws:ssm:eu-west-1:123456789012:parameter/messaging-token", false],
  ["messaging-token", false],
]);

// https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen
table("isCompleteSecretArn", isCompleteSecretArn, [
  ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token-AbCdEf", true],
  ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:messaging-token", false],
  // A name ending in "-" and six characters reads as complete: Secrets Manager's documented pitfall.
  ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-tokens", true],
  ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-token", false],
]);

describe("arnParts", () => {
  const rows: [input: string, expected: ReturnType<typeof arnParts>][] = [
    [
      "arn:aws:ec2:eu-west-1:123456789012:network-interface/eni-0123456789abcdef0",
      {
        partition: "aws",
        service: "ec2",
        region: "eu-west-1",
        account: "123456789012",
        resource: "network-interface/eni-0123456789abcdef0",
      },
    ],
    [
      "arn:aws-cn:lambda:cn-north-1:123456789012:function:notify",
      {
        partition: "aws-cn",
        service: "lambda",
        region: "cn-north-1",
        account: "123456789012",
        resource: "function:notify",
      },
    ],
    [
      "arn:aws:iam::123456789012:role/scheduler",
      { partition: "aws", service: "iam", region: "", account: "123456789012", resource: "role/scheduler" },
    ],
  ];
  for (const [input, expected] of rows) {
    it(input, () => {
      assert.deepEqual(arnParts(input), expected);
    });
  }
});

describe("checkAlarmActionArns", () => {
  it("names each entry that is not an ARN by its index, and leaves ARNs and unknown entries alone", () => {
    const checker = new ArgumentChecker("test");
    const unknownAtPreview = { apply: () => undefined };
    checkAlarmActionArns(checker, ["arn:aws:sns:us-east-1:123456789012:ops", "ops", unknownAtPreview, "sns:ops"]);
    assert.deepEqual(
      checker.list().map((problem) => [problem.argument, problem.value]),
      [
        ["alarmActions[1]", "ops"],
        ["alarmActions[3]", "sns:ops"],
      ],
    );
  });

  it("leaves a list still unknown at preview to the service", () => {
    const checker = new ArgumentChecker("test");
    checkAlarmActionArns(checker, undefined);
    checkAlarmActionArns(checker, { apply: () => undefined });
    assert.deepEqual(checker.list(), []);
  });
});
