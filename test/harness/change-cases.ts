/**
 * One change of every public argument of every component, after a first deployment, as data: the
 * argument-changes test and `npm run docs` (the "Changing it later" tables) both run them. Each case
 * builds the component before and after the change on the same URNs under the mocks and classifies
 * every child by the providers' replacement model. Importing this module installs the mocks, so
 * import it before any component module and only where nothing else is deployed.
 */
import {
  type CallMock,
  EXISTING_NAMESPACE_LOOKUP,
  existingEniLookup,
  installMocks,
  MOCK_SUBSCRIPTION,
} from "../../testing/mocks";

const CALLS: Record<string, CallMock> = {
  ...existingEniLookup({
    subnetId: "subnet-a",
    privateIp: "10.0.1.20",
    description: "legacy app eth1",
    securityGroups: ["sg-legacy"],
    availabilityZone: "us-east-1a",
  }),
  ...EXISTING_NAMESPACE_LOOKUP,
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
import { type ChildImpact, classifyChanges, losesData } from "./replacement-model";

const SCOPE = { project: "queue-patterns", stack: "test" };
const ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:on-call";
const ACTION_GROUP = `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call`;
const tagged = <T>(args: T): T => ({ ...args, tags: { team: "data" } });

export interface ComponentChanges<A> {
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
    environment: (b) => ({ ...b, environment: { MODE: "strict" } }),
    alarmActions: (b) => ({ ...b, alarmActions: [ACTION_GROUP] }),
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

export const COMPONENTS = [FIFO, NOTIFIER, ENI_ASG, FAN_OUT, DEDUP] as ComponentChanges<any>[];

/** What one argument's change does at the next `pulumi up`. */
export interface ArgumentImpact {
  argument: string;
  /** The argument's value after the change, as the table shows it. */
  change: string;
  /** Every child's impact; empty when the component refused the change. */
  children: ChildImpact[];
  /** The construction error's message when the component refuses the change. */
  refused?: string;
  /** The registrations the mocked providers refused (a name they reject). */
  rejected: string[];
}

/** The component's name in a case: one per argument, so no two cases share URNs. */
export function caseName(argument: string): string {
  return `c-${argument.toLowerCase()}`.slice(0, 30);
}

/** Builds the component, then builds it again with the argument changed, as the next `pulumi up` would. */
export async function argumentImpact<A>(component: ComponentChanges<A>, argument: string): Promise<ArgumentImpact> {
  const name = caseName(argument);
  const changed = component.changes[argument](component.base);
  const change = describeValue((changed as Record<string, unknown>)[argument]);
  const first = installMocks(CALLS, SCOPE);
  component.build(name, component.base);
  await first.settle();
  const second = installMocks(CALLS, { ...SCOPE, prior: first });
  try {
    component.build(name, changed);
  } catch (error) {
    await second.settle();
    return { argument, change, children: [], refused: (error as Error).message, rejected: first.rejected };
  }
  await second.settle();
  return {
    argument,
    change,
    children: classifyChanges(first.resources, second.resources),
    rejected: [...first.rejected, ...second.rejected],
  };
}

/** Every argument's impact for one component, in the order of its cases. */
export async function componentImpacts<A>(component: ComponentChanges<A>): Promise<ArgumentImpact[]> {
  const impacts: ArgumentImpact[] = [];
  for (const argument of Object.keys(component.changes)) impacts.push(await argumentImpact(component, argument));
  return impacts;
}

/** The case of an Args interface, e.g. `FifoIngesterArgs`. */
export function casesOf(argsName: string): ComponentChanges<any> {
  const component = COMPONENTS.find((c) => c.args === argsName);
  if (!component) throw new Error(`no change cases for ${argsName} in test/harness/change-cases.ts`);
  return component;
}

/** The table's header: argument | the change made | its effect. */
export const CHANGES_HEADER = ["argument", "changed to", "next `pulumi up`"];

/** One table row: the argument, its new value and what the update does, data losses first. */
export function changeRow(impact: ArgumentImpact): string[] {
  return [`\`${impact.argument}\``, impact.change, effectText(impact)];
}

function effectText(impact: ArgumentImpact): string {
  if (impact.refused !== undefined) return `refused: ${oneLine(impact.refused)}`;
  const child = (c: ChildImpact) => `${shortType(c.type)} \`${c.name.replace(`${caseName(impact.argument)}-`, "")}\``;
  const losing = impact.children.filter(losesData).map((c) => {
    const how = c.impact === "deleted" ? "deletes" : `replaces (${c.impact.replace("replaced ", "")})`;
    return `${how} ${child(c)}, which loses ${c.loses}`;
  });
  const replacedOthers = [
    ...new Set(
      impact.children
        .filter((c) => !losesData(c) && (c.impact.startsWith("replaced") || c.impact === "deleted"))
        .map((c) => `${c.impact === "deleted" ? "deletes" : "replaces"} ${shortType(c.type)}`),
    ),
  ];
  const parts = [...losing, ...replacedOthers];
  return parts.length === 0 ? "in place" : parts.join("; ");
}

/** `aws:sqs/queue:Queue` as `Queue`. */
function shortType(type: string): string {
  return type.slice(type.lastIndexOf(":") + 1);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

const FUNCTION = "() => ...";

/** A value as the table shows it: functions as `() => ...`, at most 60 characters. */
function describeValue(value: unknown): string {
  const text = (JSON.stringify(value, (_key, v) => (typeof v === "function" ? FUNCTION : v)) ?? "undefined").replaceAll(
    JSON.stringify(FUNCTION),
    FUNCTION,
  );
  const short = text.length <= 60 ? text : `${text.slice(0, 57)}...`;
  return `\`${short.replace(/`/g, "'")}\``;
}
