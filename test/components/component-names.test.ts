/**
 * Every component checks its own name against the physical names it derives from it: the longest
 * name it accepts, in the widest characters it accepts, yields only names the providers accept (the
 * mocks apply pulumi-aws's and azure-native's auto-naming and each service's name rules, see
 * provider-state.ts); one more character, or a character a derived name cannot hold, is refused at
 * construction with the limit in the message.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existingEniLookup, installMocks } from "../../testing/mocks";

const recorder = installMocks(
  existingEniLookup({
    subnetId: "subnet-a",
    privateIp: "10.0.1.10",
    description: "eni",
    securityGroups: ["sg-app"],
    availabilityZone: "us-east-1a",
  }),
);

import * as pulumi from "@pulumi/pulumi";
import { DedupForwardingQueue } from "../../components/dedup-forwarding-queue";
import { FanOutIngest } from "../../components/fan-out-ingest";
import { FifoIngester } from "../../components/fifo-ingester";
import { PersistentEniAsg } from "../../components/persistent-eni-asg";
import { ScheduledNotifier } from "../../components/scheduled-notifier";
import { InvalidArgumentsError } from "../../components/core/validation";
import { providerState } from "../../testing/provider-state";

interface NameCase {
  component: string;
  build: (name: string) => unknown;
  /** The longest name, worked out by hand from the strictest derived name below. */
  longest: number;
  /** The derived name that sets `longest`, as the message quotes it. */
  strictest: string;
  /** Every character class the component accepts, to build the widest accepted name from. */
  widest: string;
  /** A character one of its derived names cannot hold. */
  refused: string;
}

const CASES: NameCase[] = [
  {
    component: "FifoIngester",
    build: (name) => new FifoIngester(name, { handler: async () => {} }),
    // Lambda: 64 - 8 (Pulumi's "-" and 7 random) - "-consumer-function".length (18).
    longest: 38,
    strictest: "<name>-consumer-function",
    widest: "Aa0-_",
    refused: ".",
  },
  {
    component: "ScheduledNotifier",
    build: (name) =>
      new ScheduledNotifier(name, {
        schedule: "rate(1 hour)",
        recipients: async function* () {
          yield { id: "u" };
        },
        send: async () => {},
        apiToken: { value: pulumi.secret("token") },
      }),
    longest: 38,
    strictest: "<name>-producer-function",
    // The S3 ledger bucket: pulumi-aws lowercases the auto-name, and S3 takes no "_".
    widest: "Aa0-",
    refused: "_",
  },
  {
    component: "PersistentEniAsg",
    build: (name) =>
      new PersistentEniAsg(name, {
        networkInterface: {
          subnetId: "subnet-a",
          privateIp: "10.0.1.10",
          securityGroupIds: ["sg-app"],
          subnetCidrBlock: "10.0.1.0/24",
        },
        imageId: "ami-0123456789abcdef0",
        instanceType: "t4g.small",
      }),
    longest: 38,
    strictest: "<name>-attacher-function",
    widest: "Aa0-_",
    refused: ".",
  },
  {
    component: "FanOutIngest",
    build: (name) =>
      new FanOutIngest(name, {
        source: async function* () {
          yield 1;
        },
      }),
    // App Service plan: 60 - 8 (azure-native's random part) - "-functions-plan".length (15).
    longest: 37,
    strictest: "<name>-functions-plan",
    widest: "Aa0-",
    refused: "_",
  },
  {
    component: "DedupForwardingQueue",
    build: (name) =>
      new DedupForwardingQueue(name, { resourceGroupName: "rg", windows: { daily: 86_400 }, process: async () => {} }),
    longest: 44,
    strictest: "<name>-fn-plan",
    widest: "Aa0-",
    refused: "_",
  },
];

/** A name of `length` characters that starts with a letter and uses every character of `widest`. */
function nameOf(length: number, widest: string): string {
  const body = `a${widest}`.repeat(length);
  return `${body.slice(0, length - 1)}a`;
}

describe("component names", () => {
  for (const c of CASES) {
    it(`${c.component}: the longest, widest name it accepts yields only names the providers accept`, async () => {
      const name = nameOf(c.longest, c.widest);
      assert.equal(name.length, c.longest);
      c.build(name);
      await recorder.settle();
      assert.ok(
        recorder.resources.some((r) => r.name.startsWith(name)),
        "the component registered its children",
      );
      assert.deepEqual(
        recorder.rejected.filter((message) => message.includes(name)),
        [],
      );
    });

    it(`${c.component}: one character more is refused at construction, with the limit`, () => {
      const name = nameOf(c.longest + 1, c.widest);
      assert.throws(
        () => c.build(name),
        (error: Error) =>
          error instanceof InvalidArgumentsError &&
          error.message.includes(
            `${c.component} ${JSON.stringify(name)}: name ${JSON.stringify(name)} is ${c.longest + 1} characters; ${c.component} derives "${c.strictest}"`,
          ) &&
          error.message.includes(`so name allows at most ${c.longest}.`),
      );
    });

    it(`${c.component}: a character a derived name cannot hold is refused at construction`, () => {
      const name = `ab${c.refused}cd`;
      assert.throws(
        () => c.build(name),
        (error: Error) =>
          error instanceof InvalidArgumentsError &&
          error.message.includes(`name ${JSON.stringify(name)} contains ${JSON.stringify(c.refused)}`),
      );
    });
  }

  it("the mocks refuse the names the providers refuse", () => {
    const lambda = "aws:lambda/function:Function";
    assert.doesNotThrow(() => providerState(lambda, `${"a".repeat(38)}-consumer-function`, {}));
    assert.throws(() => providerState(lambda, `${"a".repeat(39)}-consumer-function`, {}), {
      message: `name '${"a".repeat(39)}-consumer-function-' plus 7 random chars is longer than maximum length 64`,
    });
    // The ".fifo" pulumi-aws adds after its length check still counts against SQS's 80.
    assert.throws(
      () => providerState("aws:sqs/queue:Queue", "q".repeat(72), { fifoQueue: true }),
      /the service rejects the name "q{72}-[0-9a-f]{7}\.fifo" \(85 characters\)/,
    );
    // pulumi-aws auto-names SNS topics up to 80 characters before ".fifo" (resources.go, "aws_sns_topic").
    assert.doesNotThrow(() => providerState("aws:sns/topic:Topic", "t".repeat(72), { fifoTopic: true }));
    assert.throws(() => providerState("aws:sns/topic:Topic", "t".repeat(73), { fifoTopic: true }), {
      message: `name '${"t".repeat(73)}-' plus 7 random chars is longer than maximum length 80`,
    });
    // Types resources.go does not list get setAutonaming's 255; the service's 64 then refuses.
    assert.throws(
      () => providerState("aws:scheduler/schedule:Schedule", "s".repeat(60), {}),
      /the service rejects the name "s{60}-[0-9a-f]{7}" \(68 characters\)/,
    );
    // azure-native's random auto-name drops nothing: capitals reach ARM and a storage account refuses them.
    assert.throws(
      () => providerState("azure-native:storage:StorageAccount", "Data", { resourceGroupName: "rg" }),
      /rejects the name "Data[0-9a-f]{8}"/,
    );
    assert.throws(
      () => providerState("aws:s3/bucket:Bucket", "a_b-ledger", {}),
      /aws:s3\/bucket:Bucket "a_b-ledger": the service rejects the name/,
    );
    // A child resource is named after its logical name, capitals included.
    assert.throws(
      () => providerState("azure-native:storage:BlobContainer", "Ab-deployments", { accountName: "acc" }),
      /rejects the name "Ab-deployments"/,
    );
  });

  it("the message says which derived name sets the limit and why", () => {
    assert.throws(() => new FifoIngester("x".repeat(45), { handler: async () => {} }), {
      message: `FifoIngester "${"x".repeat(45)}": name "${"x".repeat(45)}" is 45 characters; FifoIngester derives "<name>-consumer-function" (Lambda function names allow 64 characters including Pulumi's 8-character suffix), so name allows at most 38.`,
    });
  });
});
