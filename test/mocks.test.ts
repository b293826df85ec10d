/**
 * The mocks answer with the ids and ARNs the providers return, so an ARN-shape mistake in a policy
 * or a validator shows in the component tests. Formats: the "Import" section of each resource's
 * registry page (the id) and the Service Authorization Reference's resource types (the ARN),
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { providerState } from "../testing/provider-state";

const ACCOUNT = /\d{12}/.source;
const REGION = /[a-z]{2}-[a-z]+-\d/.source;
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.source;

const AWS_FORMATS: { type: string; inputs: Record<string, unknown>; id: RegExp; arn?: RegExp }[] = [
  {
    type: "aws:ec2/networkInterface:NetworkInterface",
    inputs: { subnetId: "subnet-1" },
    id: /^eni-[0-9a-f]{17}$/,
    arn: new RegExp(`^arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-[0-9a-f]{17}$`),
  },
  { type: "aws:s3/bucket:Bucket", inputs: { bucket: "ledger" }, id: /^ledger$/, arn: /^arn:aws:s3:::ledger$/ },
  {
    type: "aws:secretsmanager/secret:Secret",
    inputs: { name: "api-token" },
    id: new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:api-token-[A-Za-z0-9]{6}$`),
    arn: new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:api-token-[A-Za-z0-9]{6}$`),
  },
  {
    type: "aws:autoscaling/group:Group",
    inputs: { name: "web" },
    id: /^web$/,
    arn: new RegExp(`^arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:${GUID}:autoScalingGroupName/web$`),
  },
  {
    type: "aws:sqs/queue:Queue",
    inputs: { name: "jobs.fifo", fifoQueue: true },
    id: new RegExp(`^https://sqs\\.${REGION}\\.amazonaws\\.com/${ACCOUNT}/jobs\\.fifo$`),
    arn: new RegExp(`^arn:aws:sqs:${REGION}:${ACCOUNT}:jobs\\.fifo$`),
  },
  {
    type: "aws:sns/topic:Topic",
    inputs: { name: "listings.fifo", fifoTopic: true },
    id: new RegExp(`^arn:aws:sns:${REGION}:${ACCOUNT}:listings\\.fifo$`),
    arn: new RegExp(`^arn:aws:sns:${REGION}:${ACCOUNT}:listings\\.fifo$`),
  },
  {
    type: "aws:iam/role:Role",
    inputs: {},
    id: /^fn-role-[0-9a-f]{7}$/,
    arn: new RegExp(`^arn:aws:iam::${ACCOUNT}:role/fn-role-[0-9a-f]{7}$`),
  },
  {
    type: "aws:lambda/function:Function",
    inputs: { name: "attach" },
    id: /^attach$/,
    arn: new RegExp(`^arn:aws:lambda:${REGION}:${ACCOUNT}:function:attach$`),
  },
  {
    type: "aws:cloudwatch/logGroup:LogGroup",
    inputs: { name: "/aws/lambda/attach" },
    id: /^\/aws\/lambda\/attach$/,
    arn: new RegExp(`^arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/attach$`),
  },
  {
    type: "aws:scheduler/schedule:Schedule",
    inputs: { name: "daily" },
    id: /^default\/daily$/,
    arn: new RegExp(`^arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/daily$`),
  },
  { type: "aws:lambda/eventSourceMapping:EventSourceMapping", inputs: {}, id: new RegExp(`^${GUID}$`) },
];

describe("mocked ids and ARNs", () => {
  for (const { type, inputs, id, arn } of AWS_FORMATS) {
    it(`${type}: the id${arn ? " and ARN" : ""} the provider documents`, () => {
      const answer = providerState(type, inputs.name ? String(inputs.name) : "fn-role", inputs);
      assert.match(answer.id, id);
      if (arn) assert.match(answer.state.arn, arn);
    });
  }

  it("a Function App's system-assigned principal is a GUID and its id is under its resource group", () => {
    const answer = providerState("azure-native:web:WebApp", "app", { name: "app1", resourceGroupName: "rg1" });
    assert.equal(
      answer.id,
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Web/sites/app1",
    );
    assert.match(answer.state.identity.principalId, new RegExp(`^${GUID}$`));
  });

  it("refuses an AWS type it has no documented format for, instead of inventing one", () => {
    assert.throws(
      () => providerState("aws:dynamodb/table:Table", "t", {}),
      /no id\/ARN format for aws:dynamodb\/table:Table/,
    );
  });
});
