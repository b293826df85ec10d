import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import { existingEniLookup, installMocks, MOCK_ACCOUNT, MOCK_REGION, resolve } from "../../testing/mocks";

const EXISTING_ENI_ARN = `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:network-interface/eni-0existing0000000`;
/** An existing ENI without a description, which instances could not name in their tag. */
const UNDESCRIBED_ENI = "eni-0undescribed00000";
const ENI_LOOKUP = existingEniLookup({
  subnetId: "subnet-existing",
  privateIp: "10.0.2.20",
  description: "legacy app eth1",
  securityGroups: ["sg-legacy"],
  availabilityZone: "us-east-1b",
});
const GET_ENI = "aws:ec2/getNetworkInterface:getNetworkInterface";
const recorder = installMocks({
  [GET_ENI]: (inputs) => ({
    ...ENI_LOOKUP[GET_ENI](inputs),
    ...(inputs.id === UNDESCRIBED_ENI ? { description: "" } : {}),
  }),
});

import { zipBytes } from "../../components/core/artifact";
import {
  PersistentEniAsg,
  type PersistentEniAsgArgs,
  validatePersistentEniAsgArgs,
} from "../../components/persistent-eni-asg";
import { InvalidArgumentsError } from "../../components/core/validation";
import type { AttacherOutcome } from "../../runtime/persistent-eni-asg/attacher";
import { ArtifactProcess } from "../../testing/artifact-runner";
import { deploymentErrors } from "../harness/deployment-errors";
import { nodeBuild } from "../harness/node-builds";
import { FakeAws, FakeAwsEndpoint } from "../harness/fakes/ec2-autoscaling";

const GROUP = "aws:autoscaling/group:Group";
const TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const RULE = "aws:cloudwatch/eventRule:EventRule";
const FUNCTION = "aws:lambda/function:Function";
const GROUP_NAME = "queue-patterns-test-web";

const VALID: PersistentEniAsgArgs = {
  networkInterface: {
    subnetId: "subnet-a",
    privateIp: "10.0.1.10",
    securityGroupIds: ["sg-app"],
    subnetCidrBlock: "10.0.1.0/24",
  },
  imageId: "ami-0123456789abcdef0",
  instanceType: "t4g.small",
  targetGroupArns: ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"],
};

/** The statements of the attacher's role policy, by Sid: its logs and traces, then the component's own. */
const ATTACHER_SIDS = [
  "WriteOwnLogs",
  "WriteTraces",
  "MovePersistentEni",
  "MoveEniBetweenOwnInstances",
  "CompleteOwnLifecycleActions",
  "DescribeInstancesAndEnis",
  "ReportFailedEvents",
];

function attacherPolicy(name: string): any[] {
  return JSON.parse(recorder.named("aws:iam/rolePolicy:RolePolicy", `${name}-attacher-policy`).inputs.policy).Statement;
}

function statement(name: string, sid: string): any {
  const found = attacherPolicy(name).filter((s) => s.Sid === sid);
  assert.equal(found.length, 1, `one statement ${sid}`);
  return found[0];
}

describe("PersistentEniAsg with a new ENI", () => {
  let component: PersistentEniAsg;
  before(async () => {
    component = new PersistentEniAsg("web", VALID);
    await resolve(component.autoScalingGroupArn);
    await resolve(component.function.artifact);
    await recorder.settle();
  });

  it("creates the persistent ENI in the given subnet with the fixed IP, its security groups and a stack-unique description", () => {
    const { inputs } = recorder.named("aws:ec2/networkInterface:NetworkInterface", "web-eni");
    assert.equal(inputs.subnetId, "subnet-a");
    assert.deepEqual(inputs.privateIps, ["10.0.1.10"]);
    assert.deepEqual(inputs.securityGroups, ["sg-app"]);
    assert.equal(inputs.description, "queue-patterns/test/web persistent ENI");
  });

  it("requires IMDSv2 on the instances", () => {
    const { metadataOptions } = recorder.named(TEMPLATE, "web-template").inputs;
    assert.deepEqual(metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
  });

  it("tags every instance with Eth1 = the ENI's description, and with the ENI's id", () => {
    const { tagSpecifications } = recorder.named(TEMPLATE, "web-template").inputs;
    const eniId = recorder.named("aws:ec2/networkInterface:NetworkInterface", "web-eni").id;
    assert.deepEqual(tagSpecifications, [
      {
        resourceType: "instance",
        tags: {
          Name: GROUP_NAME,
          Eth1: "queue-patterns/test/web persistent ENI",
          "queue-patterns:persistent-eni-id": eniId,
        },
      },
    ]);
  });

  it("boots with the Amazon Linux 2023 script that waits for the persistent IP", () => {
    const script = Buffer.from(recorder.named(TEMPLATE, "web-template").inputs.userData, "base64").toString("utf8");
    assert.match(script, /^#!\/bin\/bash\n/);
    assert.match(script, /PERSISTENT_IP="10\.0\.1\.10"/);
    assert.match(script, /amazon-ec2-net-utils/);
    assert.match(script, /grep -q "inet \$\{PERSISTENT_IP\}\/"/);
  });

  it("gives the primary interface the ENI's security groups", () => {
    assert.deepEqual(recorder.named(TEMPLATE, "web-template").inputs.vpcSecurityGroupIds, ["sg-app"]);
  });

  it("pins the group to the ENI's subnet, one instance, registered with the target groups and their health checks", () => {
    const { inputs } = recorder.named(GROUP, "web-group");
    assert.equal(inputs.name, GROUP_NAME);
    assert.deepEqual(inputs.vpcZoneIdentifiers, ["subnet-a"]);
    assert.deepEqual([inputs.minSize, inputs.maxSize, inputs.desiredCapacity], [1, 1, 1]);
    assert.deepEqual(inputs.targetGroupArns, VALID.targetGroupArns);
    assert.equal(inputs.healthCheckType, "ELB");
  });

  it("creates the group with its launch hook, default result ABANDON, so even the first instance waits for the ENI", () => {
    const { initialLifecycleHooks } = recorder.named(GROUP, "web-group").inputs;
    assert.deepEqual(initialLifecycleHooks, [
      {
        name: "web-attach-eni",
        lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
        defaultResult: "ABANDON",
        heartbeatTimeout: 300,
      },
    ]);
  });

  it("also manages the launch hook as its own resource, so later changes apply", () => {
    const { inputs } = recorder.named("aws:autoscaling/lifecycleHook:LifecycleHook", "web-launch-hook");
    assert.deepEqual(inputs, {
      autoscalingGroupName: GROUP_NAME,
      name: "web-attach-eni",
      lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
      defaultResult: "ABANDON",
      heartbeatTimeout: 300,
    });
  });

  it("routes every launch lifecycle action of this group to the attacher, warm pool ones too: the launch hook also holds instances entering the warm pool (warm-pool-instance-lifecycle)", () => {
    assert.deepEqual(JSON.parse(recorder.named(RULE, "web-launch").inputs.eventPattern), {
      source: ["aws.autoscaling"],
      "detail-type": ["EC2 Instance-launch Lifecycle Action"],
      detail: { AutoScalingGroupName: [GROUP_NAME] },
    });
  });

  it("sends the rule's events to the attacher, undeliverable ones to the failure queue", () => {
    const { inputs } = recorder.named("aws:cloudwatch/eventTarget:EventTarget", "web-launch-target");
    const fn = recorder.named("aws:lambda/function:Function", "web-attacher-function");
    const queue = recorder.named("aws:sqs/queue:Queue", "web-failures");
    assert.equal(inputs.rule, recorder.named(RULE, "web-launch").state.name);
    assert.equal(inputs.arn, fn.state.arn);
    assert.deepEqual(inputs.deadLetterConfig, { arn: queue.state.arn });
    assert.deepEqual(inputs.retryPolicy, { maximumEventAgeInSeconds: 300, maximumRetryAttempts: 185 });
  });

  it("lets EventBridge invoke the attacher only from the launch rule", () => {
    const { inputs } = recorder.named("aws:lambda/permission:Permission", "web-launch-invoke");
    assert.equal(inputs.action, "lambda:InvokeFunction");
    assert.equal(inputs.principal, "events.amazonaws.com");
    assert.equal(inputs.sourceArn, recorder.named(RULE, "web-launch").state.arn);
    assert.equal(inputs.function, recorder.named("aws:lambda/function:Function", "web-attacher-function").state.name);
  });

  it("sends events the attacher failed after Lambda's retries to the encrypted failure queue", () => {
    const config = recorder.named(
      "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
      "web-attacher-invoke",
    ).inputs;
    const queue = recorder.named("aws:sqs/queue:Queue", "web-failures");
    assert.deepEqual(config.destinationConfig, { onFailure: { destination: queue.state.arn } });
    assert.equal(config.maximumRetryAttempts, 2);
    assert.equal(queue.inputs.sqsManagedSseEnabled, true);
    assert.equal(queue.inputs.messageRetentionSeconds, 1_209_600);
  });

  it("lets only the rule put into the failure queue, over TLS only", () => {
    const queue = recorder.named("aws:sqs/queue:Queue", "web-failures");
    const policy = JSON.parse(recorder.named("aws:sqs/queuePolicy:QueuePolicy", "web-failures-policy").inputs.policy);
    assert.deepEqual(policy.Statement, [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:*",
        Resource: queue.state.arn,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "EventBridgeDeadLetters",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queue.state.arn,
        Condition: { ArnEquals: { "aws:SourceArn": recorder.named(RULE, "web-launch").state.arn } },
      },
    ]);
  });

  it("alarms as soon as the failure queue holds an event, like every dead-letter path", () => {
    const queue = recorder.named("aws:sqs/queue:Queue", "web-failures");
    const { inputs } = recorder.named("aws:cloudwatch/metricAlarm:MetricAlarm", "web-failures-alarm");
    assert.deepEqual(
      {
        namespace: inputs.namespace,
        metricName: inputs.metricName,
        dimensions: inputs.dimensions,
        statistic: inputs.statistic,
        period: inputs.period,
        threshold: inputs.threshold,
        comparisonOperator: inputs.comparisonOperator,
        treatMissingData: inputs.treatMissingData,
      },
      {
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: queue.state.name },
        statistic: "Maximum",
        period: 60,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
      },
    );
    assert.match(inputs.alarmDescription, /^PersistentEniAsg "web": lifecycle events the attacher could not handle/);
  });

  it("may attach and detach only the persistent ENI", () => {
    const eniArn = recorder.named("aws:ec2/networkInterface:NetworkInterface", "web-eni").state.arn;
    assert.deepEqual(statement("web", "MovePersistentEni"), {
      Sid: "MovePersistentEni",
      Effect: "Allow",
      Action: ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"],
      Resource: [eniArn],
    });
  });

  it("may attach and detach only on instances Auto Scaling tagged as this group's", () => {
    assert.deepEqual(statement("web", "MoveEniBetweenOwnInstances"), {
      Sid: "MoveEniBetweenOwnInstances",
      Effect: "Allow",
      Action: ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"],
      Resource: [`arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:instance/*`],
      Condition: { StringEquals: { "ec2:ResourceTag/aws:autoscaling:groupName": GROUP_NAME } },
    });
  });

  it("may complete and heartbeat lifecycle actions of this group only", () => {
    assert.deepEqual(statement("web", "CompleteOwnLifecycleActions"), {
      Sid: "CompleteOwnLifecycleActions",
      Effect: "Allow",
      Action: ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
      Resource: [
        `arn:aws:autoscaling:${MOCK_REGION}:${MOCK_ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/${GROUP_NAME}`,
      ],
    });
  });

  it("uses `*` only for the Describe calls, which support no resource-level permissions", () => {
    assert.deepEqual(statement("web", "DescribeInstancesAndEnis"), {
      Sid: "DescribeInstancesAndEnis",
      Effect: "Allow",
      Action: ["ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "autoscaling:DescribeAutoScalingInstances"],
      Resource: ["*"],
    });
    const wildcards = attacherPolicy("web")
      .filter((s) => s.Resource.includes("*"))
      .map((s) => s.Sid);
    assert.deepEqual(wildcards, ["WriteTraces", "DescribeInstancesAndEnis"]);
  });

  it("may send only to its own failure queue", () => {
    assert.deepEqual(statement("web", "ReportFailedEvents"), {
      Sid: "ReportFailedEvents",
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: [recorder.named("aws:sqs/queue:Queue", "web-failures").state.arn],
    });
  });

  it("has exactly these statements besides its logs and traces", () => {
    assert.deepEqual(
      attacherPolicy("web").map((s) => s.Sid),
      ATTACHER_SIDS,
    );
  });

  it("adds no terminate hook or rule unless asked", () => {
    assert.equal(recorder.ofType(RULE).filter((r) => r.name.startsWith("web-")).length, 1);
    assert.equal(
      recorder.ofType("aws:autoscaling/lifecycleHook:LifecycleHook").filter((r) => r.name.startsWith("web-")).length,
      1,
    );
  });

  it("tells the attacher the persistent ENI's id and the failure queue's URL", () => {
    assert.deepEqual(recorder.named(FUNCTION, "web-attacher-function").inputs.environment, {
      variables: {
        PERSISTENT_ENI_ID: recorder.named("aws:ec2/networkInterface:NetworkInterface", "web-eni").id,
        PERSISTENT_ENI_FAILURE_QUEUE_URL: recorder.named("aws:sqs/queue:Queue", "web-failures").state.url,
      },
    });
  });

  it("packages the attacher with this group's name and its timings", async () => {
    const bundle = (await resolve(component.function.artifact)).files["index.js"];
    const literal = bundle.match(/createAttacher\([\w$]+,(\{[^}]*\})\)/)?.[1];
    assert.ok(literal, "the bundle starts the attacher factory with its options");
    assert.deepEqual(new Function(`return ${literal};`)(), {
      autoScalingGroupName: GROUP_NAME,
      pollIntervalMs: 2000,
      forceDetachAfterMs: 60000,
      heartbeatIntervalMs: 150000,
      completionReserveMs: 15000,
      maxAttempts: 8,
    });
  });

  it("parents every child to itself", () => {
    const children = recorder.resources.filter(
      (r) => r.name.startsWith("web-") && r.parent !== undefined && !r.name.startsWith("web-attacher-"),
    );
    assert.ok(children.length >= 10);
    assert.ok(
      children.every((r) => r.parent === "web"),
      JSON.stringify(children.map((r) => [r.name, r.parent])),
    );
  });

  describe("its attacher artifact on the fake EC2 and Auto Scaling endpoint", () => {
    let endpoint: FakeAwsEndpoint;
    let attacher: ArtifactProcess;
    const world = new FakeAws();
    before(async () => {
      endpoint = await FakeAwsEndpoint.start(world);
      // The environment the component gave the function, with the mock engine's ids.
      const { variables } = recorder.named(FUNCTION, "web-attacher-function").inputs.environment;
      attacher = await ArtifactProcess.start(
        zipBytes(await resolve(component.function.artifact)),
        "aws-lambda",
        {
          ...endpoint.env(),
          ...variables,
        },
        nodeBuild,
      );
    });
    after(async () => {
      await attacher?.stop();
      await endpoint?.close();
    });

    it("attaches the ENI the component created, by its id, and completes the launch with CONTINUE", async () => {
      const description = "queue-patterns/test/web persistent ENI";
      const eni = world.addEni({
        networkInterfaceId: recorder.named("aws:ec2/networkInterface:NetworkInterface", "web-eni").id,
        description,
        availabilityZone: "us-east-1a",
        privateIp: "10.0.1.10",
      });
      const { instanceId, token, event } = world.launch({
        group: GROUP_NAME,
        hookName: "web-attach-eni",
        availabilityZone: "us-east-1a",
        tags: { Eth1: description },
      });
      const invocation = await attacher.invoke(event);
      assert.equal((invocation.result as AttacherOutcome).result, "CONTINUE", JSON.stringify(invocation));
      assert.equal(world.eni(eni).attachment?.instanceId, instanceId);
      assert.deepEqual(
        world.completions.map((c) => [c.token, c.result, c.accepted]),
        [[token, "CONTINUE", true]],
      );
    });
  });
});

describe("PersistentEniAsg with the terminate hook", () => {
  before(async () => {
    const component = new PersistentEniAsg("rel", { ...VALID, detachOnTerminate: true, heartbeatTimeoutSeconds: 120 });
    await resolve(component.autoScalingGroupArn);
    await recorder.settle();
  });

  it("adds a terminate hook that continues by default next to the launch hook", () => {
    const { initialLifecycleHooks } = recorder.named(GROUP, "rel-group").inputs;
    assert.deepEqual(initialLifecycleHooks[1], {
      name: "rel-release-eni",
      lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
      defaultResult: "CONTINUE",
      heartbeatTimeout: 120,
    });
  });

  it("routes every terminate lifecycle action of this group to the attacher: terminations from the group or the warm pool and returns to the warm pool all leave service (warm-pools-eventbridge-events)", () => {
    assert.deepEqual(JSON.parse(recorder.named(RULE, "rel-terminate").inputs.eventPattern), {
      source: ["aws.autoscaling"],
      "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
      detail: { AutoScalingGroupName: ["queue-patterns-test-rel"] },
    });
    const permission = recorder.named("aws:lambda/permission:Permission", "rel-terminate-invoke").inputs;
    assert.equal(permission.sourceArn, recorder.named(RULE, "rel-terminate").state.arn);
  });

  it("lets both rules, and only them, put into the failure queue", () => {
    const policy = JSON.parse(recorder.named("aws:sqs/queuePolicy:QueuePolicy", "rel-failures-policy").inputs.policy);
    const allow = policy.Statement.find((s: { Sid: string }) => s.Sid === "EventBridgeDeadLetters");
    assert.deepEqual(allow.Condition, {
      ArnEquals: {
        "aws:SourceArn": [
          recorder.named(RULE, "rel-launch").state.arn,
          recorder.named(RULE, "rel-terminate").state.arn,
        ],
      },
    });
  });
});

describe("PersistentEniAsg when its lifecycle hooks change", () => {
  /**
   * The aws.autoscaling.Group properties whose change replaces the group: ForceNew in the schema of
   * the provider @pulumi/aws bridges (hashicorp/terraform-provider-aws
   * internal/service/autoscaling/group.go: name, name_prefix, and initial_lifecycle_hook with all
   * its fields since https://github.com/hashicorp/terraform-provider-aws/pull/34260).
   */
  const GROUP_FORCE_NEW = ["name", "namePrefix", "initialLifecycleHooks"];

  /**
   * The properties whose change replaces the group on `pulumi up` from `before` to `after`. For a
   * property in `ignoreChanges` Pulumi diffs the old value instead of the program's
   * (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/).
   */
  function replacingChanges(before: Record<string, unknown>, after: Record<string, unknown>, ignoreChanges: string[]) {
    return GROUP_FORCE_NEW.filter((key) => !ignoreChanges.includes(key) && !isDeepStrictEqual(before[key], after[key]));
  }

  /** The group's inputs and ignoreChanges, and the hook resources, as a deployment of `args` registers them. */
  async function deployment(args: PersistentEniAsgArgs) {
    let groupOptions: pulumi.CustomResourceOptions | undefined;
    const component = new PersistentEniAsg("hooks", args, {
      transformations: [
        ({ type, opts }) => {
          if (type === GROUP) groupOptions = opts;
          return undefined;
        },
      ],
    });
    const before = recorder.resources.length;
    await resolve(component.autoScalingGroupArn);
    await recorder.settle();
    const registered = recorder.resources.slice(before);
    const group = registered.find((r) => r.type === GROUP && r.name === "hooks-group");
    assert.ok(group, "the group was registered");
    const hooks = registered
      .filter((r) => r.type === "aws:autoscaling/lifecycleHook:LifecycleHook")
      .map((r) => [r.name, r.inputs.heartbeatTimeout]);
    return { inputs: group.inputs, ignoreChanges: groupOptions?.ignoreChanges ?? [], hooks };
  }

  const FIXED = { ...VALID, autoScalingGroupName: "hooks-fixed" };

  it("keeps the group when the heartbeat changes: initialLifecycleHooks forces replacement (terraform-provider-aws#34260), so the group ignores it and the LifecycleHook resource applies it", async () => {
    const first = await deployment({ ...FIXED, heartbeatTimeoutSeconds: 300 });
    const second = await deployment({ ...FIXED, heartbeatTimeoutSeconds: 600 });
    assert.notDeepEqual(first.inputs.initialLifecycleHooks, second.inputs.initialLifecycleHooks);
    assert.deepEqual(replacingChanges(first.inputs, second.inputs, second.ignoreChanges), []);
    assert.deepEqual(second.hooks, [["hooks-launch-hook", 600]]);
  });

  it("keeps the group when detachOnTerminate is turned on: the terminate hook is added as its own LifecycleHook resource", async () => {
    const first = await deployment(FIXED);
    const second = await deployment({ ...FIXED, detachOnTerminate: true });
    assert.deepEqual(replacingChanges(first.inputs, second.inputs, second.ignoreChanges), []);
    assert.deepEqual(second.hooks, [
      ["hooks-launch-hook", 300],
      ["hooks-terminate-hook", 300],
    ]);
  });

  it("still replaces the group for a new autoScalingGroupName, which the provider cannot rename in place", async () => {
    const first = await deployment(FIXED);
    const second = await deployment({ ...FIXED, autoScalingGroupName: "hooks-renamed" });
    assert.deepEqual(replacingChanges(first.inputs, second.inputs, second.ignoreChanges), ["name"]);
  });
});

describe("PersistentEniAsg with function settings and permissions for its afterAttach callback", () => {
  const ZONE_ARN = "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ";
  before(async () => {
    const component = new PersistentEniAsg("dns", {
      ...VALID,
      afterAttach: async () => {},
      function: {
        permissions: [{ actions: ["route53:ChangeResourceRecordSets"], resources: [ZONE_ARN] }],
        architecture: "x86_64",
        reservedConcurrency: 2,
        memorySizeMb: 512,
      },
    });
    await resolve(component.autoScalingGroupArn);
    await recorder.settle();
  });

  it("gives the attacher function the settings of `function`, with the component's timeout of 300 s", () => {
    const { inputs } = recorder.named("aws:lambda/function:Function", "dns-attacher-function");
    assert.deepEqual(
      [inputs.architectures, inputs.reservedConcurrentExecutions, inputs.memorySize, inputs.timeout],
      [["x86_64"], 2, 512, 300],
    );
  });

  it("adds function.permissions to the attacher's role as an Allow statement of its own", () => {
    assert.deepEqual(statement("dns", "CallbackPermission0"), {
      Sid: "CallbackPermission0",
      Effect: "Allow",
      Action: ["route53:ChangeResourceRecordSets"],
      Resource: [ZONE_ARN],
    });
    assert.deepEqual(
      attacherPolicy("dns").map((s) => s.Sid),
      [...ATTACHER_SIDS, "CallbackPermission0"],
    );
  });
});

describe("PersistentEniAsg adopting an existing ENI", () => {
  before(async () => {
    const component = new PersistentEniAsg("legacy", {
      networkInterface: { existing: "eni-0existing0000000" },
      imageId: "ami-0123456789abcdef0",
      instanceType: "t4g.small",
    });
    await resolve(component.autoScalingGroupArn);
    await recorder.settle();
  });

  it("creates no ENI", () => {
    assert.equal(
      recorder.ofType("aws:ec2/networkInterface:NetworkInterface").filter((r) => r.name.startsWith("legacy")).length,
      0,
    );
  });

  it("pins the group to the ENI's looked-up subnet, with EC2 health checks when there is no target group", () => {
    const { inputs } = recorder.named(GROUP, "legacy-group");
    assert.deepEqual(inputs.vpcZoneIdentifiers, ["subnet-existing"]);
    assert.equal(inputs.healthCheckType, "EC2");
  });

  it("tags instances with the ENI's own description and waits for its own IP", () => {
    const { tagSpecifications, userData, vpcSecurityGroupIds } = recorder.named(TEMPLATE, "legacy-template").inputs;
    assert.equal(tagSpecifications[0].tags.Eth1, "legacy app eth1");
    assert.match(Buffer.from(userData, "base64").toString("utf8"), /PERSISTENT_IP="10\.0\.2\.20"/);
    assert.deepEqual(vpcSecurityGroupIds, ["sg-legacy"]);
  });

  it("scopes attach and detach to the existing ENI's ARN", () => {
    assert.deepEqual(statement("legacy", "MovePersistentEni").Resource, [EXISTING_ENI_ARN]);
  });

  it("tells the attacher the existing ENI's id", () => {
    const { variables } = recorder.named(FUNCTION, "legacy-attacher-function").inputs.environment;
    assert.equal(variables.PERSISTENT_ENI_ID, "eni-0existing0000000");
  });
});

describe("PersistentEniAsg adopting an existing ENI without a description", () => {
  it("fails the deployment, naming the ENI and what to set", async () => {
    const message =
      'PersistentEniAsg "bare": networkInterface.existing "eni-0undescribed00000" has no description; ' +
      "give the ENI a description unique in the account and region: instances carry it in their tag.";
    const errors = await deploymentErrors(async () => {
      // The transform keeps the tags the component gives the template, and registers the template without them.
      let given: pulumi.Input<unknown> = undefined;
      new PersistentEniAsg("bare", {
        networkInterface: { existing: UNDESCRIBED_ENI },
        imageId: "ami-0123456789abcdef0",
        instanceType: "t4g.small",
        transform: {
          launchTemplate: (templateArgs) => {
            given = templateArgs.tagSpecifications;
            return { ...templateArgs, tagSpecifications: undefined };
          },
        },
      });
      await assert.rejects(resolve(given), { name: "InvalidArgumentsError", message });
    });
    assert.ok(errors.length > 0, "the deployment fails");
    for (const error of errors) assert.equal(error, message);
  });
});

describe("validatePersistentEniAsgArgs", () => {
  /** The error text for VALID with `overrides`, or "(valid)". */
  function problem(overrides: Partial<PersistentEniAsgArgs>): string {
    try {
      validatePersistentEniAsgArgs("web", { ...VALID, ...overrides }).throwIfAny();
      return "(valid)";
    } catch (error) {
      assert.ok(error instanceof InvalidArgumentsError);
      return error.message;
    }
  }
  const eni = (overrides: Record<string, unknown>) =>
    ({ networkInterface: { ...VALID.networkInterface, ...overrides } }) as Partial<PersistentEniAsgArgs>;
  const NETWORK_INTERFACE_FIX =
    'give { subnetId, privateIp, securityGroupIds } to create the persistent ENI, or { existing: "eni-..." } to use one.';

  it("accepts the defaults", () => {
    assert.equal(problem({}), "(valid)");
  });

  it("accepts an existing ENI by id", () => {
    assert.equal(problem({ networkInterface: { existing: "eni-0existing0000000" } }), "(valid)");
  });

  /** Each row: the argument the first message names, what is wrong, the args beside VALID's, the whole message. */
  const rows: { argument: string; what: string; args: Partial<PersistentEniAsgArgs>; message: string }[] = [
    {
      argument: "heartbeatTimeoutSeconds",
      what: "a heartbeat timeout out of Auto Scaling's range",
      args: { heartbeatTimeoutSeconds: 20 },
      message:
        'PersistentEniAsg "web": heartbeatTimeoutSeconds 20 is out of range; Auto Scaling lifecycle hooks allow 30..7200.',
    },
    {
      argument: "heartbeatTimeoutSeconds",
      what: "a heartbeat timeout above Auto Scaling's maximum",
      args: { heartbeatTimeoutSeconds: 7201 },
      message:
        'PersistentEniAsg "web": heartbeatTimeoutSeconds 7201 is out of range; Auto Scaling lifecycle hooks allow 30..7200.',
    },
    {
      argument: "maxSize",
      what: "a maxSize other than 1",
      args: { maxSize: 2 },
      message:
        'PersistentEniAsg "web": maxSize 2 is not allowed; one persistent ENI serves one instance, so maxSize must be 1.',
    },
    {
      argument: "minSize",
      what: "a minSize above 1",
      args: { minSize: 2, desiredCapacity: 1 },
      message:
        'PersistentEniAsg "web": minSize 2 is out of range; one persistent ENI serves one instance, so the group allows 0..1.\n' +
        'PersistentEniAsg "web": desiredCapacity 1 is below minSize 2; use at least 2.',
    },
    {
      argument: "desiredCapacity",
      what: "a desiredCapacity that is not a whole number",
      args: { desiredCapacity: 0.5 },
      message:
        'PersistentEniAsg "web": desiredCapacity 0.5 is out of range; one persistent ENI serves one instance, so the group allows 0..1.',
    },
    {
      argument: "desiredCapacity",
      what: "a desiredCapacity below minSize",
      args: { minSize: 1, desiredCapacity: 0 },
      message: 'PersistentEniAsg "web": desiredCapacity 0 is below minSize 1; use at least 1.',
    },
    {
      argument: "networkInterface",
      what: "a missing ENI spec",
      args: { networkInterface: undefined },
      message: `PersistentEniAsg "web": networkInterface (missing) is required; ${NETWORK_INTERFACE_FIX}`,
    },
    {
      argument: "networkInterface.subnetId",
      what: "a subnet given by its ARN instead of its id",
      args: {
        networkInterface: {
          ...(VALID.networkInterface as object),
          subnetId: "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0123456789abcdef0",
        } as never,
      },
      message:
        'PersistentEniAsg "web": networkInterface.subnetId "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0123456789abcdef0" ' +
        'is not a subnet id; give the id ("subnet-0123456789abcdef0", a Subnet\'s id output), not its ARN, name or CIDR block.',
    },
    {
      argument: "targetGroupArns[0]",
      what: "an SNS topic ARN given as a target group ARN",
      args: { targetGroupArns: ["arn:aws:sns:us-east-1:123456789012:web-alerts"] },
      message:
        'PersistentEniAsg "web": targetGroupArns[0] "arn:aws:sns:us-east-1:123456789012:web-alerts" is not a target group ARN (it is sns\'s); ' +
        'give an Elastic Load Balancing target group\'s ARN, "arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>" ' +
        "(a TargetGroup's arn output).",
    },
    {
      argument: "networkInterface.subnetId",
      what: "creation settings beside networkInterface.existing",
      args: { networkInterface: { existing: "eni-1", subnetId: "subnet-a" } as never },
      message:
        'PersistentEniAsg "web": networkInterface.subnetId "subnet-a" applies only to a persistent ENI the component creates; ' +
        "set it on the existing persistent ENI, or omit networkInterface.existing.",
    },
    {
      argument: "networkInterface.description",
      what: "a description beside networkInterface.existing, which has its own",
      args: { networkInterface: { existing: "eni-1", description: "eth1" } as never },
      message:
        'PersistentEniAsg "web": networkInterface.description "eth1" applies only to a persistent ENI the component creates; ' +
        "set it on the existing persistent ENI, or omit networkInterface.existing.",
    },
    {
      argument: "networkInterface.privateIp",
      what: "a new ENI without a private IP",
      args: eni({ privateIp: undefined }),
      message: `PersistentEniAsg "web": networkInterface.privateIp (missing) is required; ${NETWORK_INTERFACE_FIX}`,
    },
    {
      argument: "networkInterface.privateIp",
      what: "a private IP that is not an IPv4 address",
      args: eni({ privateIp: "10.0.1.300" }),
      message:
        'PersistentEniAsg "web": networkInterface.privateIp "10.0.1.300" is not an IPv4 address; give a free address of the subnet, e.g. "10.0.1.10".',
    },
    {
      argument: "networkInterface.privateIp",
      what: "a private IP outside the given subnet",
      args: eni({ privateIp: "10.0.2.10" }),
      message:
        'PersistentEniAsg "web": networkInterface.privateIp "10.0.2.10" is outside networkInterface.subnetCidrBlock 10.0.1.0/24; give an address of the ENI\'s subnet.',
    },
    {
      argument: "networkInterface.privateIp",
      what: "a private IP AWS reserves in the subnet",
      args: eni({ privateIp: "10.0.1.3" }),
      message:
        'PersistentEniAsg "web": networkInterface.privateIp "10.0.1.3" is reserved by AWS in 10.0.1.0/24 (the first four addresses and the last); use one of 10.0.1.4..10.0.1.254.',
    },
    {
      argument: "networkInterface.subnetCidrBlock",
      what: "a subnet CIDR block VPC subnets cannot have",
      args: eni({ subnetCidrBlock: "10.0.1.0/30" }),
      message:
        'PersistentEniAsg "web": networkInterface.subnetCidrBlock "10.0.1.0/30" is not a subnet CIDR block; VPC subnets are /16../28, e.g. "10.0.1.0/24".',
    },
    {
      argument: "networkInterface.securityGroupIds",
      what: "a new ENI without a security group",
      args: eni({ securityGroupIds: [] }),
      message:
        'PersistentEniAsg "web": networkInterface.securityGroupIds [] must name at least one security group; without one the ENI gets the VPC\'s default group.',
    },
    {
      argument: "networkInterface.description",
      what: "an ENI description longer than EC2 allows",
      args: eni({ description: "x".repeat(256) }),
      message: `PersistentEniAsg "web": networkInterface.description "${"x".repeat(256)}" is not a usable ENI description; use 1..255 characters, unique in the account and region.`,
    },
    {
      argument: "tagKey",
      what: "a tag key in the reserved aws: namespace",
      args: { tagKey: "aws:eth1" },
      message:
        'PersistentEniAsg "web": tagKey "aws:eth1" is not a usable EC2 tag key; use 1..128 letters, digits, spaces and _ . : / = + - @, not starting with "aws:".',
    },
    {
      argument: "tagKey",
      what: "a tag key with characters EC2 tags do not allow",
      args: { tagKey: "eth#1" },
      message:
        'PersistentEniAsg "web": tagKey "eth#1" is not a usable EC2 tag key; use 1..128 letters, digits, spaces and _ . : / = + - @, not starting with "aws:".',
    },
    {
      argument: "imageId",
      what: "a missing AMI",
      args: { imageId: "" },
      message: 'PersistentEniAsg "web": imageId "" is required; give the AMI id of the instances.',
    },
    {
      argument: "autoScalingGroupName",
      what: "a group name longer than Auto Scaling allows",
      args: { autoScalingGroupName: "g".repeat(256) },
      message: `PersistentEniAsg "web": autoScalingGroupName "${"g".repeat(256)}" is not a valid Auto Scaling group name; use 1..255 characters.`,
    },
    {
      argument: "function.timeoutSeconds",
      what: "a function timeout too short to wait for a detach",
      args: { function: { timeoutSeconds: 30 } },
      message:
        'PersistentEniAsg "web": function.timeoutSeconds 30 is too short; the attacher needs at least 60 s to wait for a detach and still complete the lifecycle action.',
    },
    {
      argument: "function.timeoutSeconds",
      what: "a function timeout above Lambda's maximum",
      args: { function: { timeoutSeconds: 901 } },
      message: 'PersistentEniAsg "web": function.timeoutSeconds 901 is out of range; Lambda allows 1..900.',
    },
    {
      argument: "afterAttach",
      what: "an afterAttach callback that is not a function",
      args: { afterAttach: "update-dns" as never },
      message:
        'PersistentEniAsg "web": afterAttach "update-dns" must be a function: async ({ instanceId, networkInterfaceId, privateIp }, signal) => void.',
    },
    {
      argument: "forceDetachAfterSeconds",
      what: "a force-detach grace period that leaves no time to attach",
      args: { forceDetachAfterSeconds: 250 },
      message:
        'PersistentEniAsg "web": forceDetachAfterSeconds 250 is out of range; function.timeoutSeconds (300) leaves time to attach after a forced detach within 0..240.',
    },
    {
      argument: "function.permissions[0].actions",
      what: "a function permission that is not an IAM action",
      args: {
        function: {
          permissions: [{ actions: ["ChangeResourceRecordSets"], resources: ["arn:aws:route53:::hostedzone/Z1"] }],
        },
      },
      message:
        'PersistentEniAsg "web": function.permissions[0].actions ["ChangeResourceRecordSets"] must list IAM actions as "service:Action" (wildcards allowed), e.g. ["dynamodb:PutItem"].',
    },
    {
      argument: "function.permissions[0].resources",
      what: "a function permission without resources",
      args: { function: { permissions: [{ actions: ["route53:ChangeResourceRecordSets"], resources: [] }] } },
      message:
        'PersistentEniAsg "web": function.permissions[0].resources [] must list the ARNs the actions apply to, e.g. [table.arn].',
    },
    {
      argument: "alarmActions[0]",
      what: "an alarm action that is not an ARN",
      args: { alarmActions: ["on-call"] },
      message:
        'PersistentEniAsg "web": alarmActions[0] "on-call" is not an ARN; CloudWatch alarm actions are ARNs, e.g. an SNS topic\'s "arn:aws:sns:us-east-1:123456789012:on-call".',
    },
  ];
  for (const row of rows) {
    it(`rejects ${row.what} (${row.argument})`, () => {
      const message = problem(row.args);
      assert.equal(message, row.message);
      assert.ok(message.startsWith(`PersistentEniAsg "web": ${row.argument} `), `the message names ${row.argument}`);
    });
  }

  it("reports every problem at once", () => {
    const message = problem({ maxSize: 3, heartbeatTimeoutSeconds: 1, tagKey: "" });
    assert.equal(message.split("\n").length, 3);
  });

  it("makes the constructor throw before creating any child", async () => {
    assert.throws(() => new PersistentEniAsg("bad", { ...VALID, maxSize: 2 }), InvalidArgumentsError);
    await recorder.settle();
    assert.deepEqual(
      recorder.resources.filter((r) => r.name.startsWith("bad-")),
      [],
    );
  });
});
