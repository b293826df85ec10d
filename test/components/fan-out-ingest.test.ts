import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as vm from "node:vm";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, MOCK_SUBSCRIPTION, type RecordedResource, resolve } from "../../testing/mocks";

/** The id Azure gives a queue or blob container: under its account's queue or blob service. */
function storageChildId(account: string, service: "queue" | "blob", name: string): string {
  return service === "queue"
    ? `${account}/queueServices/default/queues/${name}`
    : `${account}/blobServices/default/containers/${name}`;
}

const EXISTING_TOPIC_PRINCIPAL = "defender-topic-principal";
const recorder = installMocks({
  "azure-native:eventgrid:getSystemTopic": (inputs) => ({
    name: inputs.systemTopicName,
    id: "topic-id",
    identity: { type: "SystemAssigned", principalId: EXISTING_TOPIC_PRINCIPAL },
  }),
});

import { unzipSync } from "fflate";
import { zipBytes } from "../../components/core/artifact";
import { BUILT_IN_ROLES } from "../../components/azure/roles";
import {
  FanOutIngest,
  type FanOutIngestArgs,
  FAILED_RUN_QUERY,
  POISON_LOG_QUERY,
  requirePrincipal,
  validateFanOutIngestArgs,
} from "../../components/fan-out-ingest";
import { InvalidArgumentsError } from "../../components/core/validation";
import { deploymentErrors } from "../harness/deployment-errors";

const ACCOUNT = "azure-native:storage:StorageAccount";
const CONTAINER = "azure-native:storage:BlobContainer";
const QUEUE = "azure-native:storage:Queue";
const POLICY = "azure-native:storage:ManagementPolicy";
const TOPIC = "azure-native:eventgrid:SystemTopic";
const SUBSCRIPTION = "azure-native:eventgrid:SystemTopicEventSubscription";
const ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment";
const WEB_APP = "azure-native:web:WebApp";
const PLAN = "azure-native:web:AppServicePlan";
const RESOURCE_GROUP = "azure-native:resources:ResourceGroup";
const METRIC_ALERT = "azure-native:monitor:MetricAlert";
const QUERY_ALERT = "azure-native:monitor:ScheduledQueryRule";

const roleId = (guid: string) =>
  `/subscriptions/${MOCK_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

const source = async function* () {
  yield "id-1";
};

async function fanOut(name: string, args: Partial<FanOutIngestArgs<string>> = {}) {
  const component = new FanOutIngest<string>(name, { source, ...args });
  await Promise.all([
    resolve(component.eventSubscription.id),
    resolve(component.functionApp.deployment.id),
    resolve(component.runUrl),
  ]);
  await recorder.settle();
  return component;
}

const named = (type: string, name: string): RecordedResource => recorder.named(type, name);
/** The component's own children of a type (not those of its Function App). */
const ofComponent = (type: string, name: string) =>
  recorder.ofType(type).filter((r) => r.name.startsWith(`${name}-`) && !r.name.startsWith(`${name}-functions-`));
const dataAccount = (component: string) => named(ACCOUNT, `${component}-data`).state.id;
const queueId = (component: string, queue: string) => storageChildId(dataAccount(component), "queue", queue);
const containerId = (component: string, container: string) => storageChildId(dataAccount(component), "blob", container);

/** The plain options the deployed bundle hands to the runtime's `createFunctions`, read back from the bundle. */
async function bundledOptions(component: FanOutIngest<string>): Promise<Record<string, unknown>> {
  const bundle = (await resolve(component.functionApp.artifact)).files["index.js"];
  const literal = bundle.match(/\.createFunctions\(\w+,(\{[^()]*\})\)\);\s*$/)?.[1];
  assert.ok(literal, "the bundle ends by calling createFunctions(callbacks, options)");
  // Evaluated in its own realm; JSON brings it back as plain objects of this one.
  return JSON.parse(JSON.stringify(vm.runInNewContext(`(${literal})`)));
}

describe("a FanOutIngest with default arguments", () => {
  let component: FanOutIngest<string>;
  before(async () => {
    component = await fanOut("ids");
  });

  it("creates a resource group when none is given", () => {
    assert.equal(named(RESOURCE_GROUP, "ids-rg").parent, "ids");
  });

  it("hardens the data storage account: TLS 1.2, HTTPS only, no public blobs, no shared keys", () => {
    const { inputs } = named(ACCOUNT, "ids-data");
    assert.equal(inputs.minimumTlsVersion, "TLS1_2");
    assert.equal(inputs.enableHttpsTrafficOnly, true);
    assert.equal(inputs.allowBlobPublicAccess, false);
    assert.equal(inputs.allowSharedKeyAccess, false);
    assert.equal(inputs.defaultToOAuthAuthentication, true);
    assert.equal(inputs.allowCrossTenantReplication, false);
    assert.match(inputs.accountName, /^idsdata[0-9a-f]{8}$/);
  });

  it("creates the chunk and dead-letter containers with no public access", () => {
    assert.deepEqual(
      ofComponent(CONTAINER, "ids").map((r) => [r.name, r.inputs.containerName, r.inputs.publicAccess]),
      [
        ["ids-chunks", "chunks", "None"],
        ["ids-dead-letters", "event-dead-letters", "None"],
      ],
    );
  });

  it("creates the events queue, the target queue and a poison queue for each", () => {
    assert.deepEqual(
      ofComponent(QUEUE, "ids")
        .map((r) => r.inputs.queueName)
        .sort(),
      ["chunk-events", "chunk-events-poison", "messages", "messages-poison"],
    );
    assert.deepEqual(component.queueNames, ["messages"]);
    assert.deepEqual(component.poisonQueueNames, ["messages-poison"]);
  });

  it("deletes chunk blobs 7 days after they were written with a lifecycle rule on the chunk container only", () => {
    const { inputs } = named(POLICY, "ids-chunk-retention");
    assert.equal(inputs.managementPolicyName, "default");
    assert.deepEqual(inputs.policy.rules, [
      {
        name: "delete-old-chunks",
        enabled: true,
        type: "Lifecycle",
        definition: {
          filters: { blobTypes: ["blockBlob"], prefixMatch: ["chunks/"] },
          actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: 7 } } },
        },
      },
    ]);
  });

  it("creates an Event Grid system topic on the data account with a system-assigned identity", () => {
    const { inputs } = named(TOPIC, "ids-events");
    assert.equal(inputs.source, named(ACCOUNT, "ids-data").state.id);
    assert.equal(inputs.topicType, "Microsoft.Storage.StorageAccounts");
    assert.deepEqual(inputs.identity, { type: "SystemAssigned" });
  });

  it("subscribes to BlobCreated of chunk blobs only: the container prefix and the .chunk.json suffix that the manifest lacks", () => {
    assert.deepEqual(named(SUBSCRIPTION, "ids-chunk-created").inputs.filter, {
      includedEventTypes: ["Microsoft.Storage.BlobCreated"],
      subjectBeginsWith: "/blobServices/default/containers/chunks/blobs/",
      subjectEndsWith: ".chunk.json",
      isSubjectCaseSensitive: true,
    });
  });

  it("delivers in the Event Grid schema with the maximum retries and event lifetime", () => {
    const { inputs } = named(SUBSCRIPTION, "ids-chunk-created");
    assert.equal(inputs.systemTopicName, named(TOPIC, "ids-events").state.name);
    assert.equal(inputs.eventDeliverySchema, "EventGridSchema");
    assert.deepEqual(inputs.retryPolicy, { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 });
  });

  it("delivers to the events queue with the topic's identity, never expiring the queued events", () => {
    const { inputs } = named(SUBSCRIPTION, "ids-chunk-created");
    assert.deepEqual(inputs.deliveryWithResourceIdentity, {
      identity: { type: "SystemAssigned" },
      destination: {
        endpointType: "StorageQueue",
        resourceId: named(ACCOUNT, "ids-data").state.id,
        queueName: "chunk-events",
        queueMessageTimeToLiveInSeconds: -1,
      },
    });
    assert.equal(inputs.destination, undefined, "no key-based destination");
  });

  it("dead-letters undeliverable events into the dead-letter container with the topic's identity", () => {
    const { inputs } = named(SUBSCRIPTION, "ids-chunk-created");
    assert.deepEqual(inputs.deadLetterWithResourceIdentity, {
      identity: { type: "SystemAssigned" },
      deadLetterDestination: {
        endpointType: "StorageBlob",
        resourceId: named(ACCOUNT, "ids-data").state.id,
        blobContainerName: "event-dead-letters",
      },
    });
    assert.equal(inputs.deadLetterDestination, undefined, "no key-based dead-letter destination");
  });

  it("grants the system topic exactly: send to the events queue and write dead letters", () => {
    const grants = recorder
      .ofType(ROLE_ASSIGNMENT)
      .filter((r) => r.inputs.principalId === named(TOPIC, "ids-events").state.identity.principalId);
    assert.deepEqual(
      grants.map((r) => [r.inputs.roleDefinitionId, r.inputs.scope, r.inputs.principalType]),
      [
        [
          roleId(BUILT_IN_ROLES["Storage Queue Data Message Sender"]),
          queueId("ids", "chunk-events"),
          "ServicePrincipal",
        ],
        [
          roleId(BUILT_IN_ROLES["Storage Blob Data Contributor"]),
          containerId("ids", "event-dead-letters"),
          "ServicePrincipal",
        ],
      ],
    );
  });

  it("grants the Function App exactly what it uses on the data account, each role on one container or queue", () => {
    const appPrincipal = named(WEB_APP, "ids-functions-app").state.identity.principalId;
    const dataGrants = recorder
      .ofType(ROLE_ASSIGNMENT)
      .filter(
        (r) =>
          r.inputs.principalId === appPrincipal &&
          r.inputs.scope.includes(named(ACCOUNT, "ids-data").inputs.accountName),
      );
    assert.deepEqual(
      dataGrants.map((r) => [r.inputs.roleDefinitionId, r.inputs.scope]),
      [
        [roleId(BUILT_IN_ROLES["Storage Blob Data Contributor"]), containerId("ids", "chunks")],
        [roleId(BUILT_IN_ROLES["Storage Queue Data Contributor"]), queueId("ids", "chunk-events")],
        [roleId(BUILT_IN_ROLES["Storage Queue Data Message Sender"]), queueId("ids", "chunk-events-poison")],
        [roleId(BUILT_IN_ROLES["Storage Queue Data Message Sender"]), queueId("ids", "messages")],
        [roleId(BUILT_IN_ROLES["Storage Queue Data Message Sender"]), queueId("ids", "messages-poison")],
      ],
    );
  });

  it("never grants an account-wide or owner role on the data account", () => {
    const accountId = named(ACCOUNT, "ids-data").state.id;
    const dataScoped = recorder
      .ofType(ROLE_ASSIGNMENT)
      .filter((r) => r.name.startsWith("ids-") && r.inputs.scope.includes("idsdata"));
    assert.ok(dataScoped.every((r) => r.inputs.scope !== accountId));
    assert.ok(dataScoped.every((r) => !r.inputs.roleDefinitionId.endsWith(BUILT_IN_ROLES["Storage Blob Data Owner"])));
  });

  it("grants Storage Queue Data Contributor on the events queue only", () => {
    const contributorScopes = recorder
      .ofType(ROLE_ASSIGNMENT)
      .filter(
        (r) =>
          r.name.startsWith("ids-") &&
          r.inputs.roleDefinitionId.endsWith(BUILT_IN_ROLES["Storage Queue Data Contributor"]),
      )
      .map((r) => r.inputs.scope);
    assert.deepEqual(contributorScopes, [queueId("ids", "chunk-events")]);
  });

  it("connects the app to the data account by identity: service URIs only, no keys or connection strings", () => {
    const settings = Object.fromEntries(
      named(WEB_APP, "ids-functions-app").inputs.siteConfig.appSettings.map((s: { name: string; value: string }) => [
        s.name,
        s.value,
      ]),
    );
    const accountName = named(ACCOUNT, "ids-data").inputs.accountName;
    assert.equal(settings.FanOutStorage__blobServiceUri, `https://${accountName}.blob.core.windows.net/`);
    assert.equal(settings.FanOutStorage__queueServiceUri, `https://${accountName}.queue.core.windows.net/`);
    assert.equal(settings.FanOutStorage, undefined);
    for (const [settingName, value] of Object.entries(settings)) {
      assert.doesNotMatch(String(value), /AccountKey=|SharedAccessSignature=|sig=/, `${settingName} holds a secret`);
    }
  });

  it("runs on Flex Consumption (FC1) with Node.js 24, the newest Flex supports, and the default scale-out ceiling", () => {
    assert.deepEqual(named(PLAN, "ids-functions-plan").inputs.sku, { tier: "FlexConsumption", name: "FC1" });
    const { functionAppConfig } = named(WEB_APP, "ids-functions-app").inputs;
    assert.deepEqual(functionAppConfig.runtime, { name: "node", version: "24" });
    assert.equal(functionAppConfig.scaleAndConcurrency.maximumInstanceCount, 100);
  });

  it("exposes the identity its callbacks run as, the Function App's", async () => {
    assert.equal(
      await resolve(component.functionPrincipalId),
      named(WEB_APP, "ids-functions-app").state.identity.principalId,
    );
  });

  it("reads the events queue's text untouched (messageEncoding none), one chunk per instance, poisoning an event after 5 attempts 30 s apart", async () => {
    const files = unzipSync(zipBytes(await resolve(component.functionApp.artifact)));
    const host = JSON.parse(Buffer.from(files["host.json"]).toString());
    assert.deepEqual(host.extensions.queues, {
      messageEncoding: "none",
      maxDequeueCount: 5,
      visibilityTimeout: "00:00:30",
      batchSize: 1,
      newBatchThreshold: 0,
    });
  });

  it("exposes the run URL of the chunking function", async () => {
    assert.equal(
      await resolve(component.runUrl),
      `https://${named(WEB_APP, "ids-functions-app").state.defaultHostName}/api/runs`,
    );
  });
});

describe("a FanOutIngest's alarms: every failure path raises one", () => {
  const actionGroup = "/subscriptions/s/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call";
  before(async () => {
    await fanOut("alarmed", { alarmActions: [actionGroup], queueCount: 2 });
  });

  for (const [alarm, metricName] of [
    ["dead-lettered-events", "DeadLetteredCount"],
    ["dropped-events", "DroppedEventCount"],
  ]) {
    it(`raises ${alarm} on any ${metricName} of its own event subscription on the system topic (supported metrics of Microsoft.EventGrid/systemTopics)`, () => {
      const { inputs } = named(METRIC_ALERT, `alarmed-${alarm}`);
      assert.deepEqual(inputs.scopes, [named(TOPIC, "alarmed-events").state.id]);
      assert.equal(inputs.criteria.odataType, "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria");
      const [criterion] = inputs.criteria.allOf;
      assert.deepEqual(
        {
          metricNamespace: criterion.metricNamespace,
          metricName: criterion.metricName,
          operator: criterion.operator,
          threshold: criterion.threshold,
          timeAggregation: criterion.timeAggregation,
          dimensions: criterion.dimensions,
        },
        {
          metricNamespace: "Microsoft.EventGrid/systemTopics",
          metricName,
          operator: "GreaterThan",
          threshold: 0,
          timeAggregation: "Total",
          dimensions: [
            {
              name: "EventSubscriptionName",
              operator: "Include",
              values: [named(SUBSCRIPTION, "alarmed-chunk-created").state.name],
            },
          ],
        },
      );
      assert.deepEqual(inputs.actions, [{ actionGroupId: actionGroup }]);
    });
  }

  it("raises poisoned on any warning about a poison queue in the app's Application Insights, within 15 minutes", () => {
    const { inputs } = named(QUERY_ALERT, "alarmed-poisoned");
    assert.deepEqual(inputs.scopes, [
      named("azure-native:applicationinsights:Component", "alarmed-functions-insights").state.id,
    ]);
    assert.equal(inputs.kind, "LogAlert");
    assert.deepEqual([inputs.evaluationFrequency, inputs.windowSize], ["PT5M", "PT15M"]);
    const [condition] = inputs.criteria.allOf;
    assert.deepEqual(
      [condition.query, condition.timeAggregation, condition.operator, condition.threshold],
      [POISON_LOG_QUERY, "Count", "GreaterThan", 0],
    );
    assert.deepEqual(inputs.actions, { actionGroups: [actionGroup] });
    assert.match(inputs.description, /chunk-events-poison, messages-1-poison, messages-2-poison/);
  });

  it("queries the warnings the host logs when it moves an event to the poison queue and those the ingestion function logs", () => {
    // The WebJobs queue processor's warning (QueueProcessor.CopyMessageToPoisonQueueAsync) and the runtime's
    // (runtime/fan-out-ingest/functions.ts; the artifact test checks it logs them as warnings).
    const matches = (message: string) =>
      /Moving message to queue/.test(message) ||
      message.startsWith("event rejected to ") ||
      /[1-9][0-9]* poisoned/.test(message);
    assert.match(POISON_LOG_QUERY, /^traces\n\| where severityLevel == 2\n/);
    assert.ok(POISON_LOG_QUERY.includes('message has "Moving message to queue"'));
    assert.ok(POISON_LOG_QUERY.includes('message startswith "event rejected to "'));
    assert.ok(POISON_LOG_QUERY.includes('message matches regex @"[1-9][0-9]* poisoned"'));
    assert.ok(matches("Message has reached MaxDequeueCount of 5. Moving message to queue 'chunk-events-poison'."));
    assert.ok(matches("completed r/000001.chunk.json: 4 sent, 1 poisoned, resumed at 0/5"));
    assert.ok(!matches("completed r/000001.chunk.json: 5 sent, 0 poisoned, resumed at 0/5"));
  });

  it("raises failed-runs on a failed invocation of the chunking functions (HTTP or timer) in Application Insights", () => {
    const { inputs } = named(QUERY_ALERT, "alarmed-failed-runs");
    assert.deepEqual(inputs.scopes, named(QUERY_ALERT, "alarmed-poisoned").inputs.scopes);
    const [condition] = inputs.criteria.allOf;
    assert.deepEqual(
      [condition.query, condition.timeAggregation, condition.operator, condition.threshold],
      [FAILED_RUN_QUERY, "Count", "GreaterThan", 0],
    );
    assert.match(FAILED_RUN_QUERY, /^requests\n\| where operation_Name in \("chunk", "chunkOnSchedule"\)\n/);
    assert.deepEqual(inputs.actions, { actionGroups: [actionGroup] });
  });

  it("notifies no one when no action group is given, but still raises the alarms", async () => {
    await fanOut("silent");
    assert.deepEqual(named(METRIC_ALERT, "silent-dead-lettered-events").inputs.actions, []);
    assert.deepEqual(named(QUERY_ALERT, "silent-poisoned").inputs.actions, { actionGroups: [] });
    assert.equal(named(QUERY_ALERT, "silent-poisoned").inputs.enabled, true);
  });
});

describe("a FanOutIngest with arguments", () => {
  it("grants the app's identity the roles its callbacks need, by name, on the scopes given", async () => {
    const vaultId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/api-keys";
    const cosmosReaderGuid = "fbdf93bf-df7d-467e-a4d2-9458aa1360c8";
    const component = await fanOut("callbacks", {
      function: {
        permissions: {
          apiKey: { role: "Key Vault Secrets User", scope: vaultId },
          cosmosAccount: { role: cosmosReaderGuid, scope: "/subscriptions/s/cosmos" },
        },
      },
    });
    const principal = await resolve(component.functionPrincipalId);
    const grants = recorder.ofType(ROLE_ASSIGNMENT).filter((r) => r.name.startsWith("callbacks-functions-callback-"));
    assert.deepEqual(
      grants.map((r) => [
        r.name,
        r.inputs.principalId,
        r.inputs.principalType,
        r.inputs.roleDefinitionId,
        r.inputs.scope,
      ]),
      [
        [
          "callbacks-functions-callback-apiKey",
          principal,
          "ServicePrincipal",
          roleId(BUILT_IN_ROLES["Key Vault Secrets User"]),
          vaultId,
        ],
        [
          "callbacks-functions-callback-cosmosAccount",
          principal,
          "ServicePrincipal",
          roleId(cosmosReaderGuid),
          "/subscriptions/s/cosmos",
        ],
      ],
    );
  });

  it("runs on Node.js 22 when asked, and builds the bundle for it", async () => {
    const component = await fanOut("node22", { function: { nodeVersion: "22" } });
    assert.deepEqual(named(WEB_APP, "node22-functions-app").inputs.functionAppConfig.runtime, {
      name: "node",
      version: "22",
    });
    const artifact = await resolve(component.functionApp.artifact);
    assert.deepEqual(JSON.parse(artifact.files["package.json"]).engines, { node: "22.x" });
  });

  it("uses an existing resource group instead of creating one", async () => {
    await fanOut("existing-rg", { resourceGroupName: "shared-rg" });
    assert.equal(recorder.ofType(RESOURCE_GROUP).filter((r) => r.name === "existing-rg-rg").length, 0);
    assert.equal(named(ACCOUNT, "existing-rg-data").inputs.resourceGroupName, "shared-rg");
  });

  it("creates queueCount numbered target queues, each with its poison queue and its own send grant", async () => {
    const component = await fanOut("spread", { queueCount: 3, queueName: "jobs" });
    assert.deepEqual(component.queueNames, ["jobs-1", "jobs-2", "jobs-3"]);
    assert.deepEqual(
      ofComponent(QUEUE, "spread")
        .map((r) => r.inputs.queueName)
        .sort(),
      [
        "chunk-events",
        "chunk-events-poison",
        "jobs-1",
        "jobs-1-poison",
        "jobs-2",
        "jobs-2-poison",
        "jobs-3",
        "jobs-3-poison",
      ],
    );
    const senderScopes = recorder
      .ofType(ROLE_ASSIGNMENT)
      .filter(
        (r) =>
          r.name.startsWith("spread-app-jobs-") &&
          r.inputs.roleDefinitionId.endsWith(BUILT_IN_ROLES["Storage Queue Data Message Sender"]),
      )
      .map((r) => r.inputs.scope);
    assert.deepEqual(
      senderScopes,
      ["jobs-1", "jobs-2", "jobs-3", "jobs-1-poison", "jobs-2-poison", "jobs-3-poison"].map((queue) =>
        queueId("spread", queue),
      ),
    );
  });

  it("passes chunk size, send concurrency, checkpoint interval, encoding and queues to the functions", async () => {
    const component = await fanOut("tuned", {
      chunkSize: 2000,
      sendConcurrency: 8,
      checkpointEvery: 250,
      messageEncoding: "none",
      queueCount: 2,
      chunkContainerName: "pages",
    });
    assert.deepEqual(await bundledOptions(component), {
      connection: "FanOutStorage",
      chunkContainer: "pages",
      eventsQueue: "chunk-events",
      eventsPoisonQueue: "chunk-events-poison",
      targetQueues: ["messages-1", "messages-2"],
      poisonQueues: ["messages-1-poison", "messages-2-poison"],
      chunkSize: 2000,
      uploadConcurrency: 4,
      concurrency: 8,
      checkpointEvery: 250,
      messageEncoding: "none",
    });
    assert.equal(
      named(SUBSCRIPTION, "tuned-chunk-created").inputs.filter.subjectBeginsWith,
      "/blobServices/default/containers/pages/blobs/",
    );
  });

  it("subscribes through an existing system topic and grants its identity instead of creating a topic", async () => {
    await fanOut("reuse", { systemTopic: { existing: "defender-topic" } });
    assert.equal(recorder.ofType(TOPIC).filter((r) => r.name.startsWith("reuse-")).length, 0);
    assert.equal(named(SUBSCRIPTION, "reuse-chunk-created").inputs.systemTopicName, "defender-topic");
    assert.deepEqual(
      recorder
        .ofType(ROLE_ASSIGNMENT)
        .filter((r) => r.name.startsWith("reuse-topic-"))
        .map((r) => r.inputs.principalId),
      [EXISTING_TOPIC_PRINCIPAL, EXISTING_TOPIC_PRINCIPAL],
    );
  });

  it("fails the deployment when the existing system topic has no identity to deliver with", () => {
    assert.throws(() => requirePrincipal('FanOutIngest "ids"', "legacy-topic", undefined), {
      name: "InvalidArgumentsError",
      message:
        'FanOutIngest "ids": systemTopic.existing "legacy-topic" has no system-assigned identity; Event Grid needs one to deliver without keys. Enable it on the topic.',
    });
  });

  it("adds the user's non-secret environment beside the identity connection", async () => {
    await fanOut("settings", { environment: { API_URL: "https://api.example.com" } });
    const names = named(WEB_APP, "settings-functions-app").inputs.siteConfig.appSettings.map(
      (s: { name: string; value: string }) => `${s.name}=${s.value}`,
    );
    assert.ok(names.includes("API_URL=https://api.example.com"));
    assert.ok(names.some((setting: string) => setting.startsWith("FanOutStorage__queueServiceUri=")));
  });

  it("hands a schedule to the functions only when one is given", async () => {
    const scheduled = await fanOut("nightly", { schedule: "0 0 2 * * *" });
    const unscheduled = await fanOut("on-demand");
    assert.equal((await bundledOptions(scheduled)).schedule, "0 0 2 * * *");
    assert.equal("schedule" in (await bundledOptions(unscheduled)), false);
  });

  it("lets transforms change the storage account, topic, subscription and the Function App's children", async () => {
    await fanOut("custom", {
      transform: {
        storageAccount: (args) => ({ ...args, sku: { name: "Standard_ZRS" } }),
        systemTopic: (args) => ({ ...args, tags: { team: "data" } }),
        eventSubscription: (args) => ({ ...args, labels: ["fan-out"] }),
        function: { webApp: (args) => ({ ...args, tags: { team: "data" } }) },
      },
    });
    assert.deepEqual(named(ACCOUNT, "custom-data").inputs.sku, { name: "Standard_ZRS" });
    assert.deepEqual(named(TOPIC, "custom-events").inputs.tags, { team: "data" });
    assert.deepEqual(named(SUBSCRIPTION, "custom-chunk-created").inputs.labels, ["fan-out"]);
    assert.deepEqual(named(WEB_APP, "custom-functions-app").inputs.tags, { team: "data" });
  });

  it("names transform.function.webApp when it puts back a site property Flex rejects", async () => {
    assert.throws(
      () =>
        new FanOutIngest<string>("legacy", {
          source,
          transform: {
            function: {
              webApp: (args) => ({ ...args, siteConfig: { ...(args.siteConfig as object), ftpsState: "Disabled" } }),
            },
          },
        }),
      /FanOutIngest "legacy": transform\.function\.webApp sets siteConfig\.ftpsState, which Flex Consumption rejects/,
    );
    await recorder.settle();
  });

  it("passes the function settings to the Function App: scale-out ceiling and instance memory", async () => {
    await fanOut("sized", { function: { maximumInstanceCount: 20, instanceMemoryMb: 4096 } });
    assert.deepEqual(named(WEB_APP, "sized-functions-app").inputs.functionAppConfig.scaleAndConcurrency, {
      maximumInstanceCount: 20,
      instanceMemoryMB: 4096,
    });
  });

  it("retries Event Grid deliveries eventDelivery.maxDeliveryCount times within eventDelivery.eventTimeToLiveMinutes", async () => {
    await fanOut("patient", { eventDelivery: { maxDeliveryCount: 10, eventTimeToLiveMinutes: 60 } });
    assert.deepEqual(named(SUBSCRIPTION, "patient-chunk-created").inputs.retryPolicy, {
      maxDeliveryAttempts: 10,
      eventTimeToLiveInMinutes: 60,
    });
  });

  it("parents every child to the component", async () => {
    await fanOut("family");
    const children = recorder.resources.filter(
      (r) => r.name.startsWith("family-") && !r.name.startsWith("family-functions-"),
    );
    assert.ok(children.length > 10);
    assert.deepEqual(
      children.filter((r) => r.parent !== "family").map((r) => r.name),
      [],
    );
  });
});

describe("invalid arguments fail at construction, naming the argument, the value and the fix", () => {
  const long = "q".repeat(55);
  /** Each row: what is rejected, the arguments beside `source`, the argument named, the whole message. */
  const rows: { what: string; args: Partial<FanOutIngestArgs<string>>; argument: string; message: string }[] = [
    {
      what: "a missing source",
      args: { source: undefined as never },
      argument: "source",
      message:
        'FanOutIngest "ids": source (missing) must be a function returning an async iterable, e.g. an async generator that walks the API\'s pages.',
    },
    {
      what: "an alarm action that is not an action group id",
      args: { alarmActions: ["on-call"] },
      argument: "alarmActions[0]",
      message:
        'FanOutIngest "ids": alarmActions[0] "on-call" is not an action group id; Azure Monitor alerts notify action groups, ' +
        'e.g. "/subscriptions/<id>/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call" (an action group\'s id output).',
    },
    {
      what: "a toMessage that is not a function",
      args: { toMessage: "id" as never },
      argument: "toMessage",
      message:
        'FanOutIngest "ids": toMessage "id" must be a function from an item to a message (string or JSON value).',
    },
    {
      what: "a chunk size of 0",
      args: { chunkSize: 0 },
      argument: "chunkSize",
      message:
        'FanOutIngest "ids": chunkSize 0 is out of range; one ingestion invocation enqueues a whole chunk within the Functions time limit, so use 1..100000.',
    },
    {
      what: "a fractional chunk size",
      args: { chunkSize: 2500.5 },
      argument: "chunkSize",
      message:
        'FanOutIngest "ids": chunkSize 2500.5 is out of range; one ingestion invocation enqueues a whole chunk within the Functions time limit, so use 1..100000.',
    },
    {
      what: "more than 10 queues",
      args: { queueCount: 11 },
      argument: "queueCount",
      message:
        'FanOutIngest "ids": queueCount 11 is out of range; ten queues at ~2,000 msg/s reach the storage account\'s ~20,000 requests/s, so more add nothing; use 1..10.',
    },
    {
      what: "a send concurrency of 0",
      args: { sendConcurrency: 0 },
      argument: "sendConcurrency",
      message: 'FanOutIngest "ids": sendConcurrency 0 is out of range; sends in flight per invocation can be 1..256.',
    },
    {
      what: "a checkpoint interval longer than the chunk",
      args: { chunkSize: 1000, checkpointEvery: 1001 },
      argument: "checkpointEvery",
      message:
        'FanOutIngest "ids": checkpointEvery 1001 is out of range; the interval is at most the chunk size: use 1..1000.',
    },
    {
      what: "an unknown message encoding",
      args: { messageEncoding: "utf8" as never },
      argument: "messageEncoding",
      message:
        'FanOutIngest "ids": messageEncoding "utf8" is not a Storage Queue message encoding; use "base64" (what a Functions queue trigger reads by default) or "none".',
    },
    {
      what: "a 5-field cron schedule",
      args: { schedule: "0 2 * * *" },
      argument: "schedule",
      message:
        'FanOutIngest "ids": schedule "0 2 * * *" is not a 6-field NCRONTAB expression (second minute hour day month day-of-week); e.g. "0 0 2 * * *" runs daily at 02:00 UTC.',
    },
    {
      what: "a queue name Storage would reject",
      args: { queueName: "My_Queue" },
      argument: "queueName",
      message:
        'FanOutIngest "ids": queueName "My_Queue" is not a valid Storage queue name; use 3..63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.',
    },
    {
      what: "a queue name with consecutive hyphens",
      args: { queueName: "my--queue" },
      argument: "queueName",
      message:
        'FanOutIngest "ids": queueName "my--queue" is not a valid Storage queue name; use 3..63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.',
    },
    {
      what: "a queue name whose numbered poison queues would pass 63 characters",
      args: { queueName: long, queueCount: 10 },
      argument: "queueName",
      message: `FanOutIngest "ids": queueName "${long}" is too long: its poison queue "${long}-10-poison" would have 65 characters and Storage allows 63; use at most 53 characters.`,
    },
    {
      what: "a queue name that collides with the events queue",
      args: { queueName: "chunk-events" },
      argument: "queueName",
      message:
        'FanOutIngest "ids": queueName "chunk-events" collides with this component\'s events queues (chunk-events, chunk-events-poison); choose another name.',
    },
    {
      what: "a container name shorter than 3 characters",
      args: { chunkContainerName: "ab" },
      argument: "chunkContainerName",
      message:
        'FanOutIngest "ids": chunkContainerName "ab" is not a valid blob container name; use 3..63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.',
    },
    {
      what: "the dead-letter container's name as the chunk container",
      args: { chunkContainerName: "event-dead-letters" },
      argument: "chunkContainerName",
      message:
        'FanOutIngest "ids": chunkContainerName "event-dead-letters" is the Event Grid dead-letter container of this component; choose another name.',
    },
    {
      what: "more Event Grid deliveries than it allows",
      args: { eventDelivery: { maxDeliveryCount: 31 } },
      argument: "eventDelivery.maxDeliveryCount",
      message: 'FanOutIngest "ids": eventDelivery.maxDeliveryCount 31 is out of range; Event Grid allows 1..30.',
    },
    {
      what: "an event lifetime over 24 hours",
      args: { eventDelivery: { eventTimeToLiveMinutes: 1441 } },
      argument: "eventDelivery.eventTimeToLiveMinutes",
      message:
        'FanOutIngest "ids": eventDelivery.eventTimeToLiveMinutes 1441 is out of range; Event Grid allows 1..1440.',
    },
    {
      what: "a chunk retention of 0 days",
      args: { chunkRetentionDays: 0 },
      argument: "chunkRetentionDays",
      message:
        'FanOutIngest "ids": chunkRetentionDays 0 is out of range; lifecycle management deletes chunks after a number of days in 1..3650.',
    },
    {
      what: "a system topic given by its name alone",
      args: { systemTopic: "defender-topic" as never },
      argument: "systemTopic",
      message:
        'FanOutIngest "ids": systemTopic "defender-topic" must be { existing: "<system topic name>" }, a system topic on this component\'s storage account; omit systemTopic to create one.',
    },
    {
      what: "a system topic without its existing name",
      args: { systemTopic: {} as never },
      argument: "systemTopic",
      message:
        'FanOutIngest "ids": systemTopic {} must be { existing: "<system topic name>" }, a system topic on this component\'s storage account; omit systemTopic to create one.',
    },
    {
      what: "a Flex scale-out ceiling of 0",
      args: { function: { maximumInstanceCount: 0 } },
      argument: "function.maximumInstanceCount",
      message: 'FanOutIngest "ids": function.maximumInstanceCount 0 is out of range; Flex Consumption allows 1..1000.',
    },
    {
      what: "a Node.js version Flex no longer runs",
      args: { function: { nodeVersion: "20" as "22" } },
      argument: "function.nodeVersion",
      message:
        'FanOutIngest "ids": function.nodeVersion "20" is not offered for Node.js Functions on Flex Consumption; use "24" or "22" (Node.js 20 reached its end of life on 2026-04-30).',
    },
    {
      what: "an empty resource group name, which would silently create a new group",
      args: { resourceGroupName: "" },
      argument: "resourceGroupName",
      message:
        'FanOutIngest "ids": resourceGroupName "" is not a resource group name; give an existing group\'s name ' +
        "(1..90 letters, digits, _, -, . and parentheses, not ending in .), e.g. a ResourceGroup's name output, or omit resourceGroupName to create one.",
    },
    {
      what: "an app setting the Functions host reads for itself",
      args: { environment: { AzureWebJobsStorage: "UseDevelopmentStorage=true" } },
      argument: "environment.AzureWebJobsStorage",
      message:
        'FanOutIngest "ids": environment.AzureWebJobsStorage "UseDevelopmentStorage=true" names a setting of the Functions host (AzureWebJobsStorage...), which the Function App sets itself; choose another name.',
    },
    {
      what: "a callback role without a scope",
      args: { function: { permissions: { secrets: { role: "Key Vault Secrets User", scope: "" } } } },
      argument: "function.permissions.secrets.scope",
      message:
        'FanOutIngest "ids": function.permissions.secrets.scope "" must be the resource id the role applies to, e.g. vault.id.',
    },
  ];

  for (const row of rows) {
    it(`rejects ${row.what}`, () => {
      const problems = validateFanOutIngestArgs("ids", { source, ...row.args });
      assert.deepEqual(
        problems.list().map((p) => p.argument),
        [row.argument],
      );
      assert.throws(
        () => problems.throwIfAny(),
        (error: Error) => {
          assert.ok(error instanceof InvalidArgumentsError);
          assert.equal(error.message, row.message);
          return true;
        },
      );
    });
  }

  it("fails the deployment when environment holds a secret, naming the key and where secrets go", async () => {
    let given: pulumi.Input<unknown> = undefined;
    const errors = await deploymentErrors(async () => {
      // The transform keeps the app settings the component gives the app, and registers the app without them.
      new FanOutIngest<string>("leaky", {
        source,
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
        /FanOutIngest "leaky": environment\.API_KEY \(an Output\) is a secret; app settings are plain text in the app's configuration\. Store the secret in Key Vault, grant "Key Vault Secrets User" on it with function\.permissions and read it at run time\.$/,
      );
  });

  it("reports every problem at once", () =>
    assert.deepEqual(
      validateFanOutIngestArgs("ids", { source, chunkSize: 0, queueCount: 0 })
        .list()
        .map((p) => p.argument),
      ["chunkSize", "queueCount"],
    ));

  it("throws from the constructor before creating anything", async () => {
    assert.throws(
      () => new FanOutIngest("bad", { source, chunkSize: -1 }),
      /FanOutIngest "bad": chunkSize -1 is out of range/,
    );
    await recorder.settle();
    assert.deepEqual(
      recorder.resources.filter((r) => r.name.startsWith("bad")),
      [],
    );
  });
});
