/**
 * Every public argument of every component, changed after a first deployment: the component is
 * built before and after on the same URNs and each child classified by the providers' replacement
 * model. A change that replaces or deletes a child holding data must be one the component's page
 * names under "Changing it later" (refused changes are tested with each component's validation).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { type CallMock, existingEniLookup, installMocks, MOCK_SUBSCRIPTION } from "../harness/mocks";

const CALLS: Record<string, CallMock> = {
  ...existingEniLookup({
    subnetId: "subnet-a",
    privateIp: "10.0.1.20",
    description: "legacy app eth1",
    securityGroups: ["sg-legacy"],
    availabilityZone: "us-east-1a",
  }),
  "azure-native:servicebus:getNamespace": (inputs) => ({
    name: inputs.namespaceName,
    id: `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/${inputs.resourceGroupName}/providers/Microsoft.ServiceBus/namespaces/${inputs.namespaceName}`,
    sku: { name: "Standard" },
    serviceBusEndpoint: `https://${inputs.namespaceName}.servicebus.windows.net:443/`,
  }),
  "azure-native:eventgrid:getSystemTopic": (inputs) => ({
    name: inputs.systemTopicName,
    id: "topic-id",
    identity: { type: "SystemAssigned", principalId: "existing-topic-principal" },
  }),
};
installMocks(CALLS);

import * as pulumi from "@pulumi/pulumi";
import { DedupForwardingQueue, type DedupForwardingQueueArgs } from "../../components/dedup-forwarding-queue";
import { FanOutIngest, type FanOutIngestArgs } from "../../components/fan-out-ingest";
import { FifoIngester, type FifoIngesterArgs } from "../../components/fifo-ingester";
import { PersistentEniAsg, type PersistentEniAsgArgs } from "../../components/persistent-eni-asg";
import { ScheduledNotifier, type ScheduledNotifierArgs } from "../../components/scheduled-notifier";
import { ApiDocs, libraryProgram, repoRoot } from "../../scripts/docs";
import { type ChildImpact, classifyChanges, losesData } from "../harness/replacement-model";

const SCOPE = { project: "queue-patterns", stack: "test" };
const ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:on-call";
const ACTION_GROUP = `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call`;
const tagged = <T>(args: T): T => ({ ...args, tags: { team: "data" } });

interface ComponentChanges<A> {
  args: string;
  page: string;
  build: (name: string, args: A) => unknown;
  base: A;
  /** One change per top-level argument: the arguments after it. */
  changes: Record<string, (base: A) => A>;
}

const FIFO: ComponentChanges<FifoIngesterArgs<unknown>> = {
  args: "FifoIngesterArgs",
  page: "fifo-ingester.md",
  build: (name, args) => new FifoIngester(name, args),
  base: { handler: async () => {} },
  changes: {
    handler: (b) => ({ ...b, handler: async (record) => console.log(record) }),
    body: (b) => ({ ...b, body: "raw" }),
    topic: (b) => ({ ...b, topic: { existing: "arn:aws:sns:us-east-1:123456789012:orders.fifo" } }),
    highThroughput: (b) => ({ ...b, highThroughput: false }),
    batchSize: (b) => ({ ...b, batchSize: 5 }),
    maxConcurrency: (b) => ({ ...b, maxConcurrency: 10 }),
    maxDeliveryCount: (b) => ({ ...b, maxDeliveryCount: 3 }),
    visibilityTimeoutSeconds: (b) => ({ ...b, visibilityTimeoutSeconds: 600 }),
    messageRetentionSeconds: (b) => ({ ...b, messageRetentionSeconds: 86_400 }),
    deadLetterRetentionSeconds: (b) => ({ ...b, deadLetterRetentionSeconds: 86_400 }),
    alarmActions: (b) => ({ ...b, alarmActions: [ALARM_TOPIC] }),
    environment: (b) => ({ ...b, environment: { MODE: "strict" } }),
    function: (b) => ({ ...b, function: { memorySizeMb: 512 } }),
    transform: (b) => ({ ...b, transform: { queue: tagged } }),
  },
};

const NOTIFIER: ComponentChanges<ScheduledNotifierArgs<any>> = {
  args: "ScheduledNotifierArgs",
  page: "scheduled-notifier.md",
  build: (name, args) => new ScheduledNotifier(name, args),
  base: {
    schedule: "rate(1 hour)",
    recipients: async function* () {
      yield { id: "u" };
    },
    send: async () => {},
    apiToken: { value: pulumi.secret("token") },
  },
  changes: {
    schedule: (b) => ({ ...b, schedule: "rate(2 hours)" }),
    timeZone: (b) => ({ ...b, timeZone: "Europe/Berlin" }),
    scheduleEnabled: (b) => ({ ...b, scheduleEnabled: false }),
    recipients: (b) => ({
      ...b,
      recipients: async function* () {
        yield { id: "v" };
      },
    }),
    send: (b) => ({ ...b, send: async (recipient: unknown) => console.log(recipient) }),
    apiToken: (b) => ({
      ...b,
      apiToken: { existing: "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf" },
    }),
    secretCacheSeconds: (b) => ({ ...b, secretCacheSeconds: 60 }),
    environment: (b) => ({ ...b, environment: { MODE: "strict" } }),
    maxConcurrency: (b) => ({ ...b, maxConcurrency: 5 }),
    batchSize: (b) => ({ ...b, batchSize: 5 }),
    maxDeliveryCount: (b) => ({ ...b, maxDeliveryCount: 3 }),
    messageRetentionSeconds: (b) => ({ ...b, messageRetentionSeconds: 86_400 }),
    ledgerRetentionDays: (b) => ({ ...b, ledgerRetentionDays: 7 }),
    functions: (b) => ({ ...b, functions: { consumer: { memorySizeMb: 512 } } }),
    runRetry: (b) => ({ ...b, runRetry: { maximumRetryAttempts: 1, maximumEventAgeSeconds: 600 } }),
    scheduleRetry: (b) => ({ ...b, scheduleRetry: { maximumRetryAttempts: 10, maximumEventAgeSeconds: 600 } }),
    alarmActions: (b) => ({ ...b, alarmActions: [ALARM_TOPIC] }),
    transform: (b) => ({ ...b, transform: { jobsQueue: tagged } }),
  },
};

const CREATED_ENI = {
  subnetId: "subnet-a",
  privateIp: "10.0.1.10",
  securityGroupIds: ["sg-app"],
  subnetCidrBlock: "10.0.1.0/24",
};
const ENI_ASG: ComponentChanges<PersistentEniAsgArgs> = {
  args: "PersistentEniAsgArgs",
  page: "persistent-eni-asg.md",
  build: (name, args) => new PersistentEniAsg(name, args),
  base: { networkInterface: CREATED_ENI, imageId: "ami-0123456789abcdef0", instanceType: "t4g.small" },
  changes: {
    networkInterface: (b) => ({ ...b, networkInterface: { ...CREATED_ENI, privateIp: "10.0.1.11" } }),
    imageId: (b) => ({ ...b, imageId: "ami-0fedcba9876543210" }),
    instanceType: (b) => ({ ...b, instanceType: "t4g.medium" }),
    instanceSecurityGroupIds: (b) => ({ ...b, instanceSecurityGroupIds: ["sg-instance"] }),
    instanceProfileArn: (b) => ({ ...b, instanceProfileArn: "arn:aws:iam::123456789012:instance-profile/app" }),
    userData: (b) => ({ ...b, userData: "#!/bin/bash\necho hi\n" }),
    tagKey: (b) => ({ ...b, tagKey: "PersistentEni" }),
    autoScalingGroupName: (b) => ({ ...b, autoScalingGroupName: "web-group" }),
    minSize: (b) => ({ ...b, minSize: 0 }),
    maxSize: (b) => ({ ...b, maxSize: 1 }),
    desiredCapacity: (b) => ({ ...b, minSize: 0, desiredCapacity: 0 }),
    targetGroupArns: (b) => ({
      ...b,
      targetGroupArns: ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"],
    }),
    healthCheckGracePeriodSeconds: (b) => ({ ...b, healthCheckGracePeriodSeconds: 120 }),
    heartbeatTimeoutSeconds: (b) => ({ ...b, heartbeatTimeoutSeconds: 120 }),
    forceDetachAfterSeconds: (b) => ({ ...b, forceDetachAfterSeconds: 30 }),
    detachOnTerminate: (b) => ({ ...b, detachOnTerminate: true }),
    afterAttach: (b) => ({ ...b, afterAttach: async () => {} }),
    function: (b) => ({ ...b, function: { memorySizeMb: 512 } }),
    alarmActions: (b) => ({ ...b, alarmActions: [ALARM_TOPIC] }),
    transform: (b) => ({ ...b, transform: { launchTemplate: tagged } }),
  },
};

const FAN_OUT: ComponentChanges<FanOutIngestArgs<number>> = {
  args: "FanOutIngestArgs",
  page: "fan-out-ingest.md",
  build: (name, args) => new FanOutIngest(name, args),
  base: {
    source: async function* () {
      yield 1;
    },
  },
  changes: {
    resourceGroupName: (b) => ({ ...b, resourceGroupName: "rg-data" }),
    location: (b) => ({ ...b, location: "westeurope" }),
    source: (b) => ({
      ...b,
      source: async function* () {
        yield 2;
      },
    }),
    toMessage: (b) => ({ ...b, toMessage: (item: number) => ({ item }) }),
    chunkSize: (b) => ({ ...b, chunkSize: 500 }),
    queueCount: (b) => ({ ...b, queueCount: 2 }),
    queueName: (b) => ({ ...b, queueName: "items" }),
    chunkContainerName: (b) => ({ ...b, chunkContainerName: "parts" }),
    messageEncoding: (b) => ({ ...b, messageEncoding: "none" }),
    sendConcurrency: (b) => ({ ...b, sendConcurrency: 8 }),
    checkpointEvery: (b) => ({ ...b, checkpointEvery: 100 }),
    schedule: (b) => ({ ...b, schedule: "0 0 2 * * *" }),
    chunkRetentionDays: (b) => ({ ...b, chunkRetentionDays: 3 }),
    eventDelivery: (b) => ({ ...b, eventDelivery: { maxDeliveryCount: 5 } }),
    systemTopic: (b) => ({ ...b, systemTopic: { existing: "uploads-topic" } }),
    alarmActions: (b) => ({ ...b, alarmActions: [ACTION_GROUP] }),
    environment: (b) => ({ ...b, environment: { MODE: "strict" } }),
    function: (b) => ({ ...b, function: { instanceMemoryMb: 4096 } }),
    transform: (b) => ({ ...b, transform: { eventSubscription: (a) => ({ ...a, labels: ["uploads"] }) } }),
  },
};

const DEDUP: ComponentChanges<DedupForwardingQueueArgs> = {
  args: "DedupForwardingQueueArgs",
  page: "dedup-forwarding-queue.md",
  build: (name, args) => new DedupForwardingQueue(name, args),
  base: { resourceGroupName: "rg", windows: { daily: 86_400 }, process: async () => {} },
  changes: {
    resourceGroupName: (b) => ({ ...b, resourceGroupName: "rg-other" }),
    location: (b) => ({ ...b, location: "westeurope" }),
    windows: (b) => ({ ...b, windows: { daily: 86_400, twoHourly: 7_200 } }),
    process: (b) => ({ ...b, process: async (run) => console.log(run) }),
    environment: (b) => ({ ...b, environment: { MODE: "strict" } }),
    timeZone: (b) => ({ ...b, timeZone: "Europe/Berlin" }),
    scheduleDelaySeconds: (b) => ({ ...b, scheduleDelaySeconds: 120 }),
    namespace: (b) => ({ ...b, namespace: { existing: { name: "team-bus" } } }),
    workQueueDuplicateWindowSeconds: (b) => ({ ...b, workQueueDuplicateWindowSeconds: 900 }),
    maxDeliveryCount: (b) => ({ ...b, maxDeliveryCount: 3 }),
    messageRetentionSeconds: (b) => ({ ...b, messageRetentionSeconds: 2 * 86_400 }),
    lockDurationSeconds: (b) => ({ ...b, lockDurationSeconds: 120 }),
    maxConcurrentSessions: (b) => ({ ...b, maxConcurrentSessions: 4 }),
    sessionIdleTimeoutSeconds: (b) => ({ ...b, sessionIdleTimeoutSeconds: 20 }),
    producerPrincipalIds: (b) => ({ ...b, producerPrincipalIds: { ingest: "11111111-2222-3333-4444-555555555555" } }),
    alarmActions: (b) => ({ ...b, alarmActions: [ACTION_GROUP] }),
    function: (b) => ({ ...b, function: { instanceMemoryMb: 4096 } }),
    transform: (b) => ({ ...b, transform: { alarm: tagged } }),
  },
};

const COMPONENTS = [FIFO, NOTIFIER, ENI_ASG, FAN_OUT, DEDUP] as ComponentChanges<any>[];

/** The "Changing it later" section of a page. */
function changingItLater(page: string): string {
  const text = fs.readFileSync(path.join(repoRoot(), "docs", page), "utf8");
  const start = text.indexOf("## Changing it later");
  assert.ok(start >= 0, `docs/${page} has a "Changing it later" section`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end);
}

async function impactOf<A>(component: ComponentChanges<A>, argument: string): Promise<ChildImpact[]> {
  const name = `c-${argument.toLowerCase()}`.slice(0, 30);
  const first = installMocks(CALLS, SCOPE);
  component.build(name, component.base);
  await first.settle();
  const second = installMocks(CALLS, { ...SCOPE, prior: first });
  component.build(name, component.changes[argument](component.base));
  await second.settle();
  assert.deepEqual([...first.rejected, ...second.rejected], []);
  return classifyChanges(first.resources, second.resources);
}

describe("every argument change, after a first deployment", () => {
  const api = new ApiDocs(libraryProgram());
  for (const component of COMPONENTS) {
    it(`${component.args}: every argument has a change here`, () => {
      assert.deepEqual(Object.keys(component.changes).sort(), api.argumentNames(component.args).sort());
    });
    for (const argument of Object.keys(component.changes)) {
      it(`${component.args}.${argument}: loses data only where docs/${component.page} says so`, async () => {
        const impacts = await impactOf(component, argument);
        assert.ok(
          impacts.some((i) => i.impact !== "unchanged"),
          "the change reaches a child",
        );
        const losing = impacts.filter(losesData);
        if (losing.length > 0) {
          assert.ok(
            changingItLater(component.page).includes(`\`${argument}`),
            `${argument} ${losing.map((i) => `${i.impact} ${i.type} ${i.name} (loses ${i.loses})`).join("; ")}, ` +
              `and docs/${component.page} does not say so under "Changing it later"`,
          );
        }
      });
    }
  }
});
