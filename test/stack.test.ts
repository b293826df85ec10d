import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { existingEniLookup, installMocks } from "../testing/mocks";

// The dev stack looks an existing ENI up.
const recorder = installMocks(
  existingEniLookup({
    subnetId: "subnet-0123456789abcdef0",
    privateIp: "10.0.1.10",
    description: "legacy app eth1",
    securityGroups: ["sg-0123456789abcdef0"],
    availabilityZone: "us-east-1a",
  }),
);

/** Loads the stack program afresh with the given config, as `pulumi up` would. */
function runStack(config: Record<string, string>): unknown {
  pulumi.runtime.setAllConfig(config);
  const program = require.resolve("../index");
  delete require.cache[program];
  return require(program);
}

describe("the dev stack program", () => {
  it("builds nothing and exports nothing when no component is enabled", async () => {
    const outputs = runStack({ "aws:region": "us-east-1" });
    await recorder.settle();
    assert.deepEqual(outputs, {});
    assert.equal(recorder.resources.length, 0);
  });

  it("rejects a config key that names no component or setting, listing the known ones", () => {
    assert.throws(
      () => runStack({ "queue-patterns:fifoIngestr": JSON.stringify({ enabled: true }) }),
      /config queue-patterns:fifoIngestr names no component or setting of this stack; component sections: fanOutIngest, .*; other settings: scheduledNotifierApiToken /,
    );
  });

  it("reads fanOutIngest's function section: function.maximumInstanceCount is the Function App's scale-out ceiling", async () => {
    runStack({
      "queue-patterns:fanOutIngest": JSON.stringify({ enabled: true, function: { maximumInstanceCount: 20 } }),
    });
    await recorder.settle();
    const app = recorder.named("azure-native:web:WebApp", "fanOutIngest-functions-app");
    assert.equal(app.inputs.functionAppConfig.scaleAndConcurrency.maximumInstanceCount, 20);
  });

  it("rejects fanOutIngest's flat maximumInstanceCount, naming the function section it moved to", async () => {
    assert.throws(
      () => runStack({ "queue-patterns:fanOutIngest": JSON.stringify({ enabled: true, maximumInstanceCount: 20 }) }),
      /config queue-patterns:fanOutIngest\.maximumInstanceCount names no setting of queue-patterns:fanOutIngest; its settings: .*\bfunction\b/,
    );
    await recorder.settle();
  });

  it("reads queue-patterns:scheduledNotifierApiToken, the secret Pulumi.dev.yaml tells the user to set", async () => {
    assert.doesNotThrow(() =>
      runStack({
        "aws:region": "us-east-1",
        "queue-patterns:scheduledNotifierApiToken": "token",
        "queue-patterns:scheduledNotifier": JSON.stringify({ enabled: false }),
      }),
    );
    await recorder.settle();
  });

  it("builds ScheduledNotifier from its section: timeZone, environment, and an existing secret by apiToken.existing", async () => {
    const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:messaging-token-AbCdEf";
    runStack({
      "aws:region": "us-east-1",
      "queue-patterns:scheduledNotifier": JSON.stringify({
        enabled: true,
        schedule: "cron(0 9 ? * MON-FRI *)",
        timeZone: "Europe/Berlin",
        scheduleEnabled: false,
        environment: { MESSAGING_API_URL: "https://api.example.com/v1" },
        apiToken: { existing: secretArn },
      }),
    });
    await recorder.settle();
    const schedule = recorder.named("aws:scheduler/schedule:Schedule", "scheduledNotifier-schedule").inputs;
    assert.equal(schedule.scheduleExpressionTimezone, "Europe/Berlin");
    assert.equal(schedule.state, "DISABLED");
    const consumer = recorder.named("aws:lambda/function:Function", "scheduledNotifier-consumer-function").inputs;
    assert.equal(consumer.environment.variables.MESSAGING_API_URL, "https://api.example.com/v1");
    assert.equal(consumer.environment.variables.NOTIFIER_SECRET_ARN, secretArn);
    assert.equal(recorder.ofType("aws:secretsmanager/secret:Secret").length, 0);
  });

  it("uses the topic named by fifoIngester's topic.existing instead of creating one", async () => {
    const topicArn = "arn:aws:sns:us-east-1:123456789012:listings.fifo";
    runStack({
      "aws:region": "us-east-1",
      "queue-patterns:fifoIngester": JSON.stringify({ enabled: true, topic: { existing: topicArn } }),
    });
    await recorder.settle();
    assert.equal(recorder.ofType("aws:sns/topic:Topic").length, 0);
    const subscription = recorder.named("aws:sns/topicSubscription:TopicSubscription", "fifoIngester-subscription");
    assert.equal(subscription.inputs.topic, topicArn);
  });

  it("reads persistentEniAsg's networkInterface section as the settings of the ENI it creates", async () => {
    const eni = {
      subnetId: "subnet-0123456789abcdef0",
      subnetCidrBlock: "10.0.1.0/24",
      privateIp: "10.0.1.10",
      securityGroupIds: ["sg-0123456789abcdef0"],
    };
    runStack({
      "aws:region": "us-east-1",
      "queue-patterns:persistentEniAsg": JSON.stringify({ enabled: true, imageId: "ami-1", networkInterface: eni }),
    });
    await recorder.settle();
    const created = recorder.named("aws:ec2/networkInterface:NetworkInterface", "persistentEniAsg-eni").inputs;
    assert.equal(created.subnetId, eni.subnetId);
    assert.deepEqual(created.privateIps, [eni.privateIp]);
  });

  it("rejects ENI settings beside persistentEniAsg's networkInterface.existing, naming the one it reads", async () => {
    assert.throws(
      () =>
        runStack({
          "aws:region": "us-east-1",
          "queue-patterns:persistentEniAsg": JSON.stringify({
            enabled: true,
            imageId: "ami-1",
            networkInterface: { existing: "eni-0123456789abcdef0", subnetId: "subnet-0123456789abcdef0" },
          }),
        }),
      /config queue-patterns:persistentEniAsg\.networkInterface\.subnetId names no setting of queue-patterns:persistentEniAsg\.networkInterface; its settings: existing\./,
    );
    await recorder.settle();
  });

  it("rejects ScheduledNotifier's retired config keys, naming the section's settings", () => {
    assert.throws(
      () =>
        runStack({
          "queue-patterns:scheduledNotifierApiToken": "token",
          "queue-patterns:scheduledNotifier": JSON.stringify({
            enabled: true,
            schedule: "rate(1 day)",
            timezone: "UTC",
          }),
        }),
      /config queue-patterns:scheduledNotifier\.timezone names no setting of queue-patterns:scheduledNotifier; its settings: .*timeZone/,
    );
  });
});
