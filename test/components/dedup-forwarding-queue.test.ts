import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  EXISTING_NAMESPACE_LOOKUP,
  installMocks,
  MOCK_SUBSCRIPTION,
  type RecordedResource,
  resolve,
} from "../../testing/mocks";

const recorder = installMocks(EXISTING_NAMESPACE_LOOKUP);

import { unzipSync } from "fflate";
import { zipBytes } from "../../components/core/artifact";
import { BUILT_IN_ROLES } from "../../components/azure/roles";
import {
  DedupForwardingQueue,
  type DedupForwardingQueueArgs,
  existingNamespaceHost,
  validateDedupForwardingQueueArgs,
} from "../../components/dedup-forwarding-queue";
import { uniqueSuffix } from "../../components/core/naming";
import { InvalidArgumentsError } from "../../components/core/validation";
import { deploymentErrors } from "../harness/deployment-errors";

const NAMESPACE = "azure-native:servicebus:Namespace";
const QUEUE = "azure-native:servicebus:Queue";
const ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment";
const WEB_APP = "azure-native:web:WebApp";

const processRun = async ({ dataSetId, period }: { dataSetId: string; period: string }) => {
  console.log("summarized", dataSetId, period);
};
/** Entra object ids, as role assignments name principals. */
const INGEST_PRINCIPAL = "5f0e2c1a-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const TEAM_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d";
const baseArgs: DedupForwardingQueueArgs = {
  resourceGroupName: "rg",
  windows: { daily: 86_400, twoHourly: 7_200 },
  process: processRun,
};

function ownedBy(component: string, type: string): RecordedResource[] {
  return recorder.ofType(type).filter((r) => r.name.startsWith(`${component}-`));
}

/** Builds a component and waits until everything it declares is recorded. */
async function build(name: string, args: Partial<DedupForwardingQueueArgs> = {}): Promise<DedupForwardingQueue> {
  const component = new DedupForwardingQueue(name, { ...baseArgs, ...args });
  await resolve(component.producerConfig);
  await resolve(component.functionApp.deployment.urn);
  await recorder.settle();
  return component;
}

const roleId = (role: keyof typeof BUILT_IN_ROLES) =>
  `/subscriptions/${MOCK_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLES[role]}`;

describe("DedupForwardingQueue resources", () => {
  let readings: DedupForwardingQueue;
  before(async () => {
    readings = await build("readings", { producerPrincipalIds: { ingest: INGEST_PRINCIPAL } });
  });

  it("creates a Standard namespace with SAS authentication off and TLS 1.2", () => {
    const { inputs } = recorder.named(NAMESPACE, "readings-namespace");
    assert.deepEqual(inputs.sku, { name: "Standard", tier: "Standard" });
    assert.equal(inputs.disableLocalAuth, true);
    assert.equal(inputs.minimumTlsVersion, "1.2");
    assert.match(inputs.namespaceName, /^readings-[0-9a-f]{8}$/);
  });

  it("makes the work queue session-enabled with short duplicate detection, expiry dead-lettering and 10 deliveries", () => {
    const { inputs } = recorder.named(QUEUE, "readings-work");
    assert.deepEqual(
      {
        queueName: inputs.queueName,
        requiresSession: inputs.requiresSession,
        requiresDuplicateDetection: inputs.requiresDuplicateDetection,
        duplicateDetectionHistoryTimeWindow: inputs.duplicateDetectionHistoryTimeWindow,
        deadLetteringOnMessageExpiration: inputs.deadLetteringOnMessageExpiration,
        defaultMessageTimeToLive: inputs.defaultMessageTimeToLive,
        maxDeliveryCount: inputs.maxDeliveryCount,
        lockDuration: inputs.lockDuration,
        forwardTo: inputs.forwardTo,
      },
      {
        queueName: "readings-work",
        requiresSession: true,
        requiresDuplicateDetection: true,
        duplicateDetectionHistoryTimeWindow: "PT10M",
        deadLetteringOnMessageExpiration: true,
        defaultMessageTimeToLive: "P14D",
        maxDeliveryCount: 10,
        lockDuration: "PT1M",
        forwardTo: undefined,
      },
    );
  });

  it("puts both queues in the created namespace and resource group", () => {
    const namespaceName = recorder.named(NAMESPACE, "readings-namespace").inputs.namespaceName;
    for (const queue of ownedBy("readings", QUEUE)) {
      assert.equal(queue.inputs.namespaceName, namespaceName, queue.name);
      assert.equal(queue.inputs.resourceGroupName, "rg", queue.name);
    }
  });

  it("gives each window a processing queue whose duplicate window covers the period plus the delay, forwarding to the work queue", () => {
    const processing = ownedBy("readings", QUEUE)
      .filter((queue) => queue.name.startsWith("readings-processing-"))
      .map(({ inputs }) => ({
        queueName: inputs.queueName,
        requiresSession: inputs.requiresSession,
        requiresDuplicateDetection: inputs.requiresDuplicateDetection,
        duplicateDetectionHistoryTimeWindow: inputs.duplicateDetectionHistoryTimeWindow,
        forwardTo: inputs.forwardTo,
        deadLetteringOnMessageExpiration: inputs.deadLetteringOnMessageExpiration,
      }));
    const common = {
      requiresSession: false,
      requiresDuplicateDetection: true,
      forwardTo: "readings-work",
      deadLetteringOnMessageExpiration: true,
    };
    assert.deepEqual(processing, [
      { queueName: "readings-processing-daily", duplicateDetectionHistoryTimeWindow: "P1DT5M", ...common },
      { queueName: "readings-processing-twohourly", duplicateDetectionHistoryTimeWindow: "PT2H5M", ...common },
    ]);
  });

  it("connects the Function App to the namespace by identity, with no key or connection string", () => {
    const settings = recorder.named(WEB_APP, "readings-fn-app").inputs.siteConfig.appSettings as {
      name: string;
      value: string;
    }[];
    const namespaceName = recorder.named(NAMESPACE, "readings-namespace").inputs.namespaceName;
    assert.deepEqual(
      settings.find((s) => s.name === "ServiceBus__fullyQualifiedNamespace"),
      { name: "ServiceBus__fullyQualifiedNamespace", value: `${namespaceName}.servicebus.windows.net` },
    );
    assert.equal(settings.filter((s) => /SharedAccessKey|Endpoint=sb:/i.test(s.value)).length, 0);
  });

  it("configures the session trigger in host.json: auto-complete, 8 sessions, a 10-second idle timeout", async () => {
    const artifact = await resolve(readings.functionApp.artifact);
    const host = JSON.parse(Buffer.from(unzipSync(zipBytes(artifact))["host.json"]).toString());
    assert.deepEqual(host.extensions.serviceBus, {
      autoCompleteMessages: true,
      maxConcurrentSessions: 8,
      sessionIdleTimeout: "00:00:10",
      maxAutoLockRenewalDuration: "00:30:00",
    });
  });

  it("grants the app Service Bus Data Owner on the work queue only: the scale controller needs Manage rights to read queue and session counts (event-driven-scaling, functions-bindings-service-bus)", () => {
    const app = recorder.named(WEB_APP, "readings-fn-app");
    const work = recorder.named(QUEUE, "readings-work");
    const serviceBusRoles = Object.entries(BUILT_IN_ROLES)
      .filter(([role]) => role.startsWith("Azure Service Bus"))
      .map(([, guid]) => guid);
    const serviceBusGrants = ownedBy("readings", ROLE_ASSIGNMENT).filter(
      (r) =>
        r.inputs.principalId === app.state.identity.principalId &&
        serviceBusRoles.some((guid) => r.inputs.roleDefinitionId.endsWith(guid)),
    );
    assert.deepEqual(
      serviceBusGrants.map((r) => ({
        scope: r.inputs.scope,
        roleDefinitionId: r.inputs.roleDefinitionId,
        principalType: r.inputs.principalType,
      })),
      [
        {
          scope: work.state.id,
          roleDefinitionId: roleId("Azure Service Bus Data Owner"),
          principalType: "ServicePrincipal",
        },
      ],
    );
    assert.equal(BUILT_IN_ROLES["Azure Service Bus Data Owner"], "090c5cfd-751d-490a-894a-3ce6f1109419");
  });

  it("exposes the identity process runs as, the Function App's", async () => {
    assert.equal(
      await resolve(readings.functionPrincipalId),
      recorder.named(WEB_APP, "readings-fn-app").state.identity.principalId,
    );
  });

  it("exposes the name of the Function App that runs process", async () => {
    assert.equal(await resolve(readings.functionAppName), recorder.named(WEB_APP, "readings-fn-app").state.name);
  });

  it("grants the app's identity the roles process needs, on the scopes given", async () => {
    const reports = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/reports";
    const component = await build("reporting", {
      function: { permissions: { reports: { role: "Storage Blob Data Contributor", scope: reports } } },
    });
    const grant = recorder.named(ROLE_ASSIGNMENT, "reporting-fn-callback-reports");
    assert.deepEqual(
      [grant.inputs.principalId, grant.inputs.principalType, grant.inputs.roleDefinitionId, grant.inputs.scope],
      [
        await resolve(component.functionPrincipalId),
        "ServicePrincipal",
        roleId("Storage Blob Data Contributor"),
        reports,
      ],
    );
  });

  it("grants each named producer Data Sender on every processing queue and nothing else", () => {
    const grants = ownedBy("readings", ROLE_ASSIGNMENT).filter((r) => r.inputs.principalId === INGEST_PRINCIPAL);
    const queueIds = ["readings-processing-daily", "readings-processing-twoHourly"].map(
      (name) => recorder.named(QUEUE, name).state.id,
    );
    assert.deepEqual(
      grants.map((r) => ({ name: r.name, scope: r.inputs.scope, roleDefinitionId: r.inputs.roleDefinitionId })),
      [
        {
          name: "readings-producer-ingest-daily",
          scope: queueIds[0],
          roleDefinitionId: roleId("Azure Service Bus Data Sender"),
        },
        {
          name: "readings-producer-ingest-twoHourly",
          scope: queueIds[1],
          roleDefinitionId: roleId("Azure Service Bus Data Sender"),
        },
      ],
    );
  });

  it("exports the processing queue ids for later grants", async () => {
    assert.deepEqual(await resolve(pulumi.all(readings.processingQueueIds)), {
      daily: recorder.named(QUEUE, "readings-processing-daily").state.id,
      twoHourly: recorder.named(QUEUE, "readings-processing-twoHourly").state.id,
    });
  });

  it("exports what producers need as plain JSON", async () => {
    const namespaceName = recorder.named(NAMESPACE, "readings-namespace").inputs.namespaceName;
    assert.deepEqual(await resolve(readings.producerConfig), {
      fullyQualifiedNamespace: `${namespaceName}.servicebus.windows.net`,
      timeZone: "UTC",
      scheduleDelaySeconds: 300,
      windows: {
        daily: { queueName: "readings-processing-daily", periodSeconds: 86_400, duplicateWindowSeconds: 86_700 },
        twoHourly: { queueName: "readings-processing-twohourly", periodSeconds: 7200, duplicateWindowSeconds: 7500 },
      },
    });
  });

  it("alerts on dead-lettered messages in any of its queues", () => {
    const { inputs } = recorder.named("azure-native:monitor:MetricAlert", "readings-dead-letters");
    assert.deepEqual(inputs.scopes, [recorder.named(NAMESPACE, "readings-namespace").state.id]);
    const [criterion] = inputs.criteria.allOf;
    assert.equal(criterion.metricName, "DeadletteredMessages");
    assert.deepEqual(criterion.dimensions, [
      {
        name: "EntityName",
        operator: "Include",
        values: ["readings-work", "readings-processing-daily", "readings-processing-twohourly"],
      },
    ]);
    assert.equal(criterion.operator, "GreaterThan");
    assert.equal(criterion.threshold, 0);
  });
});

describe("DedupForwardingQueue options", () => {
  it("widens each duplicate window by the hour the clocks go back in a DST time zone", async () => {
    await build("london", { timeZone: "Europe/London", windows: { daily: 86_400 } });
    assert.equal(
      recorder.named(QUEUE, "london-processing-daily").inputs.duplicateDetectionHistoryTimeWindow,
      "P1DT1H5M",
    );
  });

  it("sizes a window by its period alone without a schedule delay", async () => {
    await build("undelayed", { windows: { twoHourly: 7_200 }, scheduleDelaySeconds: 0 });
    assert.equal(
      recorder.named(QUEUE, "undelayed-processing-twoHourly").inputs.duplicateDetectionHistoryTimeWindow,
      "PT2H",
    );
  });

  it("creates a Premium namespace with its messaging units", async () => {
    await build("premium", { namespace: { tier: "Premium", messagingUnits: 2 } });
    assert.deepEqual(recorder.named(NAMESPACE, "premium-namespace").inputs.sku, {
      name: "Premium",
      tier: "Premium",
      capacity: 2,
    });
  });

  it("keeps SAS authentication only when asked", async () => {
    await build("sas", { namespace: { allowLocalAuth: true } });
    assert.equal(recorder.named(NAMESPACE, "sas-namespace").inputs.disableLocalAuth, false);
  });

  it("sets the work queue's delivery count, duplicate window, retention and lock from the arguments", async () => {
    await build("tuned", {
      maxDeliveryCount: 3,
      workQueueDuplicateWindowSeconds: 3600,
      messageRetentionSeconds: 86_400,
      lockDurationSeconds: 30,
    });
    const { inputs } = recorder.named(QUEUE, "tuned-work");
    assert.deepEqual(
      [
        inputs.maxDeliveryCount,
        inputs.duplicateDetectionHistoryTimeWindow,
        inputs.defaultMessageTimeToLive,
        inputs.lockDuration,
      ],
      [3, "PT1H", "P1D", "PT30S"],
    );
  });

  it("gives process the environment it is given, with the component's own setting winning", async () => {
    await build("configured", {
      environment: { REPORTS_URL: "https://reports.example.com", ServiceBus__fullyQualifiedNamespace: "elsewhere" },
    });
    const settings = recorder.named(WEB_APP, "configured-fn-app").inputs.siteConfig.appSettings as {
      name: string;
      value: string;
    }[];
    const namespaceName = recorder.named(NAMESPACE, "configured-namespace").inputs.namespaceName;
    assert.deepEqual(
      settings.filter((s) => s.name === "REPORTS_URL" || s.name === "ServiceBus__fullyQualifiedNamespace"),
      [
        { name: "REPORTS_URL", value: "https://reports.example.com" },
        { name: "ServiceBus__fullyQualifiedNamespace", value: `${namespaceName}.servicebus.windows.net` },
      ],
    );
  });

  it("notifies the alarm's action groups", async () => {
    const actionGroup = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ops";
    await build("alarmed", { alarmActions: [actionGroup] });
    assert.deepEqual(recorder.named("azure-native:monitor:MetricAlert", "alarmed-dead-letters").inputs.actions, [
      { actionGroupId: actionGroup },
    ]);
  });

  it("uses an existing namespace in its own resource group instead of creating one", async () => {
    const shared = await build("shared", {
      namespace: { existing: { name: "team-bus", resourceGroupName: "messaging" } },
    });
    assert.equal(ownedBy("shared", NAMESPACE).length, 0);
    for (const queue of ownedBy("shared", QUEUE)) {
      assert.equal(queue.inputs.namespaceName, "team-bus");
      assert.equal(queue.inputs.resourceGroupName, "messaging");
    }
    assert.equal(await resolve(shared.fullyQualifiedNamespace), "team-bus.servicebus.windows.net");
  });

  it("names its queues in an existing namespace with the stack's suffix, so stacks sharing the namespace never share queues", async () => {
    const shared = await build("stacked", { namespace: { existing: { name: "team-bus" } } });
    const prefix = `stacked-${uniqueSuffix("stacked-queues")}`;
    assert.deepEqual(
      ownedBy("stacked", QUEUE)
        .map((queue) => queue.inputs.queueName)
        .sort(),
      [`${prefix}-processing-daily`, `${prefix}-processing-twohourly`, `${prefix}-work`],
    );
    assert.equal(shared.workQueueName, `${prefix}-work`);
    assert.equal((await resolve(shared.producerConfig)).windows.daily.queueName, `${prefix}-processing-daily`);
  });

  it("rejects an existing Basic namespace when it is looked up", () => {
    const basic = {
      name: "basic-bus",
      sku: { name: "Basic" },
      serviceBusEndpoint: "https://basic-bus.servicebus.windows.net:443/",
    };
    assert.throws(() => existingNamespaceHost('DedupForwardingQueue "shared"', basic), {
      name: "InvalidArgumentsError",
      message:
        'DedupForwardingQueue "shared": namespace.existing "basic-bus" is Basic tier; duplicate detection and auto-forwarding need a Standard or Premium namespace.',
    });
  });

  it("grants a producer added after construction Data Sender on every processing queue", async () => {
    const later = await build("later");
    const grants = later.grantProducer("analyst", "analyst-object-id", "User");
    await recorder.settle();
    assert.equal(grants.length, 2);
    const recorded = ownedBy("later", ROLE_ASSIGNMENT).filter((r) => r.inputs.principalId === "analyst-object-id");
    assert.deepEqual(
      recorded.map((r) => [r.inputs.principalType, r.inputs.roleDefinitionId, r.inputs.scope]),
      ["daily", "twoHourly"].map((w) => [
        "User",
        roleId("Azure Service Bus Data Sender"),
        recorder.named(QUEUE, `later-processing-${w}`).state.id,
      ]),
    );
  });

  it("passes the principal type of a producer given with one", async () => {
    await build("typed", {
      windows: { daily: 86_400 },
      producerPrincipalIds: { team: { principalId: TEAM_GROUP, principalType: "Group" } },
    });
    assert.equal(recorder.named(ROLE_ASSIGNMENT, "typed-producer-team-daily").inputs.principalType, "Group");
  });
});

describe("DedupForwardingQueue argument validation", () => {
  const problems = (args: Partial<DedupForwardingQueueArgs>, name = "readings") =>
    validateDedupForwardingQueueArgs(name, { ...baseArgs, ...args } as DedupForwardingQueueArgs)
      .list()
      .map((p) => `${p.argument} ${JSON.stringify(p.value) ?? "(missing)"} ${p.fix}`);
  const message = (args: Partial<DedupForwardingQueueArgs>, name = "readings") => {
    try {
      new DedupForwardingQueue(name, { ...baseArgs, ...args } as DedupForwardingQueueArgs);
    } catch (error) {
      assert.ok(error instanceof InvalidArgumentsError);
      return error.message;
    }
    assert.fail("no error was thrown");
  };

  it("accepts the defaults", () => {
    assert.deepEqual(problems({}), []);
  });

  const rows: { what: string; args: Partial<DedupForwardingQueueArgs>; name?: string; message: string }[] = [
    {
      what: "no windows",
      args: { windows: {} },
      message: 'DedupForwardingQueue "readings": windows {} needs at least one window, e.g. { daily: 86400 }.',
    },
    {
      what: "a window that is not a number of seconds",
      args: { windows: { daily: "1 day" as unknown as number } },
      message:
        'DedupForwardingQueue "readings": windows.daily "1 day" is out of range; Service Bus duplicate detection allows 20..604800.',
    },
    {
      what: "a window under 20 seconds",
      args: { windows: { fast: 10 } },
      message:
        'DedupForwardingQueue "readings": windows.fast 10 is out of range; Service Bus duplicate detection allows 20..604800.',
    },
    {
      what: "a window over 7 days",
      args: { windows: { fortnightly: 1_209_600 } },
      message:
        'DedupForwardingQueue "readings": windows.fortnightly 1209600 is out of range; Service Bus duplicate detection allows 20..604800.',
    },
    {
      what: "a window under a day that does not divide a day",
      args: { windows: { odd: 25_200 } },
      message:
        'DedupForwardingQueue "readings": windows.odd 25200 does not divide a day; periods start at local midnight, so use a length that divides 24 hours (e.g. 7200 for 2 hours, 1800 for 30 minutes) or whole days.',
    },
    {
      what: "a window over a day that is not whole days",
      args: { windows: { long: 129_600 } },
      message:
        'DedupForwardingQueue "readings": windows.long 129600 is longer than a day but not whole days; use whole days (e.g. 604800 for 7 days).',
    },
    {
      what: "a window that with the schedule delay needs more than 7 days of duplicate detection",
      args: { windows: { weekly: 604_800 } },
      message:
        'DedupForwardingQueue "readings": windows.weekly 604800 needs a duplicate-detection window of 7 days 5 minutes (the period plus 5 minutes of scheduleDelaySeconds); Service Bus allows at most 7 days. Use a shorter window, or scheduleDelaySeconds: 0.',
    },
    {
      what: "a window that with the DST hour needs more than 7 days of duplicate detection",
      args: { windows: { weekly: 604_800 }, scheduleDelaySeconds: 0, timeZone: "Europe/London" },
      message:
        'DedupForwardingQueue "readings": windows.weekly 604800 needs a duplicate-detection window of 7 days 1 hour (the period plus 1 hour for the clocks going back in Europe/London plus 0 seconds of scheduleDelaySeconds); Service Bus allows at most 7 days. Use a shorter window, or timeZone "UTC" with scheduleDelaySeconds: 0.',
    },
    {
      what: "a weekly window in a zone with DST and the default delay, where UTC alone would not fit either",
      args: { windows: { weekly: 604_800 }, timeZone: "Europe/London" },
      message:
        'DedupForwardingQueue "readings": windows.weekly 604800 needs a duplicate-detection window of 7 days 1 hour 5 minutes (the period plus 1 hour for the clocks going back in Europe/London plus 5 minutes of scheduleDelaySeconds); Service Bus allows at most 7 days. Use a shorter window, or timeZone "UTC" with scheduleDelaySeconds: 0.',
    },
    {
      what: "a six-day window in a zone with DST and a long delay, each fix with its own room",
      args: { windows: { sixDays: 518_400 }, scheduleDelaySeconds: 86_400, timeZone: "Europe/London" },
      message:
        'DedupForwardingQueue "readings": windows.sixDays 518400 needs a duplicate-detection window of 7 days 1 hour (the period plus 1 hour for the clocks going back in Europe/London plus 1 day of scheduleDelaySeconds); Service Bus allows at most 7 days. Use a shorter window, or scheduleDelaySeconds of at most 82800, or timeZone "UTC" with scheduleDelaySeconds of at most 86400.',
    },
    {
      what: "two windows of the same length",
      args: { windows: { daily: 86_400, alsoDaily: 86_400 } },
      message:
        'DedupForwardingQueue "readings": windows.alsoDaily 86400 has the same length as windows.daily; their messages would share ids in the work queue. Keep one of them.',
    },
    {
      what: "a window name that cannot be part of a queue name",
      args: { windows: { "two hourly": 7_200 } },
      message:
        'DedupForwardingQueue "readings": windows key "two hourly" cannot be part of a queue name; use letters, digits, ".", "-" or "_", starting and ending with a letter or digit.',
    },
    {
      what: "window names that differ only in case",
      args: { windows: { daily: 86_400, Daily: 7_200 } },
      message:
        'DedupForwardingQueue "readings": windows key "Daily" names the same queue as "daily"; Service Bus queue names are case-insensitive.',
    },
    {
      what: "the Basic tier",
      args: { namespace: { tier: "Basic" as "Standard" } },
      message:
        'DedupForwardingQueue "readings": namespace.tier "Basic" is not supported; duplicate detection and auto-forwarding need "Standard" or "Premium".',
    },
    {
      what: "an unknown tier",
      args: { namespace: { tier: "Gold" as "Standard" } },
      message:
        'DedupForwardingQueue "readings": namespace.tier "Gold" is not a Service Bus tier; use "Standard" or "Premium".',
    },
    {
      what: "a Premium size that does not exist",
      args: { namespace: { tier: "Premium", messagingUnits: 3 } },
      message:
        'DedupForwardingQueue "readings": namespace.messagingUnits 3 is not a Premium size; use 1, 2, 4, 8 or 16.',
    },
    {
      what: "messaging units without the Premium tier",
      args: { namespace: { messagingUnits: 2 } },
      message:
        'DedupForwardingQueue "readings": namespace.messagingUnits 2 applies only with namespace.tier "Premium".',
    },
    {
      what: "a namespace name Azure would reject",
      args: { namespace: { name: "1bus" } },
      message:
        'DedupForwardingQueue "readings": namespace.name "1bus" is not a Service Bus namespace name; use 6..50 letters, digits and hyphens, starting with a letter, ending with a letter or digit, and not ending in "-sb" or "-mgmt".',
    },
    {
      what: "a namespace name with a reserved suffix",
      args: { namespace: { name: "readings-sb" } },
      message:
        'DedupForwardingQueue "readings": namespace.name "readings-sb" is not a Service Bus namespace name; use 6..50 letters, digits and hyphens, starting with a letter, ending with a letter or digit, and not ending in "-sb" or "-mgmt".',
    },
    {
      what: "namespace settings together with an existing namespace",
      args: { namespace: { existing: { name: "team-bus" }, tier: "Premium" } as DedupForwardingQueueArgs["namespace"] },
      message:
        'DedupForwardingQueue "readings": namespace.tier "Premium" applies only to a namespace the component creates; set it on the existing namespace, or omit namespace.existing.',
    },
    {
      what: "a time zone Node.js does not know",
      args: { timeZone: "Mars/Olympus" },
      message:
        'DedupForwardingQueue "readings": timeZone "Mars/Olympus" is not an IANA time zone Node.js knows; use e.g. "UTC", "Europe/London" or "America/New_York".',
    },
    {
      what: "a UTC offset in place of a time zone name, as Node.js 22+ Intl would accept it (ECMA-402 2024)",
      args: { timeZone: "+01:00" },
      message:
        'DedupForwardingQueue "readings": timeZone "+01:00" is not an IANA time zone Node.js knows; use e.g. "UTC", "Europe/London" or "America/New_York".',
    },
    {
      what: "a schedule delay that is not a number of seconds",
      args: { scheduleDelaySeconds: "soon" as unknown as number },
      message:
        'DedupForwardingQueue "readings": scheduleDelaySeconds "soon" is out of range; it must be within 0..604800.',
    },
    {
      what: "a work queue duplicate window outside 20 seconds..7 days",
      args: { workQueueDuplicateWindowSeconds: 5 },
      message:
        'DedupForwardingQueue "readings": workQueueDuplicateWindowSeconds 5 is out of range; Service Bus duplicate detection allows 20..604800.',
    },
    {
      what: "a max delivery count Service Bus does not allow",
      args: { maxDeliveryCount: 0 },
      message: 'DedupForwardingQueue "readings": maxDeliveryCount 0 is out of range; Service Bus allows 1..2000.',
    },
    {
      what: "a message retention under a second",
      args: { messageRetentionSeconds: 0 },
      message:
        'DedupForwardingQueue "readings": messageRetentionSeconds 0 is out of range; Service Bus needs 1..922337203685.',
    },
    {
      what: "a lock duration over 5 minutes",
      args: { lockDurationSeconds: 600 },
      message: 'DedupForwardingQueue "readings": lockDurationSeconds 600 is out of range; Service Bus allows 5..300.',
    },
    {
      what: "a session count under one",
      args: { maxConcurrentSessions: 0 },
      message:
        'DedupForwardingQueue "readings": maxConcurrentSessions 0 is out of range; the Functions host is given 1..1000.',
    },
    {
      what: "a session idle timeout over 5 minutes",
      args: { sessionIdleTimeoutSeconds: 301 },
      message: 'DedupForwardingQueue "readings": sessionIdleTimeoutSeconds 301 is out of range; keep it within 1..300.',
    },
    {
      what: "a component name that cannot prefix queue names",
      args: {},
      name: "-readings",
      message:
        'DedupForwardingQueue "-readings": name "-readings" starts with "-"; DedupForwardingQueue derives "<name>-fn-deployments" and Blob container names start with a letter or digit.',
    },
    {
      what: "a missing process callback",
      args: { process: undefined },
      message:
        'DedupForwardingQueue "readings": process (missing) must be a function: async ({ dataSetId, period, window }) => void.',
    },
    {
      what: "an alarm action that is not an action group id",
      args: { alarmActions: ["on-call"] },
      message:
        'DedupForwardingQueue "readings": alarmActions[0] "on-call" is not an action group id; Azure Monitor alerts notify action groups, ' +
        'e.g. "/subscriptions/<id>/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call" (an action group\'s id output).',
    },
    {
      what: "a producer named by something other than its principal (object) id",
      args: { producerPrincipalIds: { ingest: "ingest-app" } },
      message:
        'DedupForwardingQueue "readings": producerPrincipalIds.ingest "ingest-app" is not a principal (object) id; give the ' +
        'identity\'s object id, a GUID such as app.principalId or the "Object ID" Entra ID shows for a user or group.',
    },
    {
      what: "an empty resource group name",
      args: { resourceGroupName: "" },
      message:
        'DedupForwardingQueue "readings": resourceGroupName "" is not a resource group name; give an existing group\'s name ' +
        "(1..90 letters, digits, _, -, . and parentheses, not ending in .), e.g. a ResourceGroup's name output.",
    },
    {
      what: "an app setting Flex Consumption takes from functionAppConfig",
      args: { environment: { FUNCTIONS_WORKER_RUNTIME: "node" } },
      message:
        'DedupForwardingQueue "readings": environment.FUNCTIONS_WORKER_RUNTIME "node" names a setting of the Functions host (FUNCTIONS_...), which the Function App sets itself; choose another name.',
    },
    {
      what: "Function App settings the building block rejects",
      args: { function: { instanceMemoryMb: 1024 as 2048 } },
      message:
        'DedupForwardingQueue "readings": function.instanceMemoryMb 1024 is not a Flex Consumption instance size; use 2048 or 4096.',
    },
    {
      what: "a work queue transform that changes what replaces the queue",
      args: { transform: { workQueue: (queue) => ({ ...queue, enablePartitioning: true }) } },
      message:
        'DedupForwardingQueue "readings": transform.workQueue {"enablePartitioning":true} would change enablePartitioning from false: ' +
        "Service Bus cannot change it on a queue, so the queue is deleted and recreated, losing every queued and scheduled message " +
        "and the duplicate-detection history. Leave enablePartitioning as the component sets it.",
    },
    {
      what: "a session-enabled processing queue",
      args: { transform: { processingQueue: (queue) => ({ ...queue, requiresSession: true }) } },
      message: [
        'DedupForwardingQueue "readings": transform.processingQueue (window "daily") {"requiresSession":true} would change requiresSession from false: ' +
          "Service Bus cannot change it on a queue, so the queue is deleted and recreated, losing every queued and scheduled message " +
          "and the duplicate-detection history. A session-enabled processing queue cannot auto-forward to the work queue, either. " +
          "Leave requiresSession as the component sets it.",
        'DedupForwardingQueue "readings": transform.processingQueue (window "twoHourly") {"requiresSession":true} would change requiresSession from false: ' +
          "Service Bus cannot change it on a queue, so the queue is deleted and recreated, losing every queued and scheduled message " +
          "and the duplicate-detection history. A session-enabled processing queue cannot auto-forward to the work queue, either. " +
          "Leave requiresSession as the component sets it.",
      ].join("\n"),
    },
  ];
  for (const row of rows) {
    it(`rejects ${row.what}`, () => {
      assert.equal(message(row.args, row.name), row.message);
    });
  }

  it("fails the deployment when environment holds a secret, naming the key and where secrets go", async () => {
    let given: pulumi.Input<unknown> = undefined;
    const errors = await deploymentErrors(async () => {
      // The transform keeps the app settings the component gives the app, and registers the app without them.
      new DedupForwardingQueue("leaky", {
        ...baseArgs,
        environment: { API_KEY: pulumi.secret("k3y") },
        transform: {
          function: {
            webApp: (webAppArgs) => {
              given = (webAppArgs.siteConfig as { appSettings?: unknown }).appSettings;
              return { ...webAppArgs, siteConfig: { ...webAppArgs.siteConfig, appSettings: [] } };
            },
          },
        },
      });
      await assert.rejects(resolve(given));
    });
    assert.ok(errors.length > 0, "the deployment fails");
    for (const error of errors)
      assert.match(
        error,
        /DedupForwardingQueue "leaky": environment\.API_KEY \(an Output\) is a secret; app settings are plain text in the app's configuration\. Store the secret in Key Vault, grant "Key Vault Secrets User" on it with function\.permissions and read it at run time\.$/,
      );
  });

  it("reports every problem at once", () => {
    assert.deepEqual(
      problems({ namespace: { tier: "Basic" as "Standard" }, maxDeliveryCount: 0, timeZone: "Nowhere" }).length,
      3,
    );
  });
});
