import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { before, describe, it } from "node:test";
import { unzipSync } from "fflate";
import { installMocks, MOCK_SUBSCRIPTION, resolve } from "../../../testing/mocks";

const recorder = installMocks();

import { BUILT_IN_ROLES } from "../../../components/azure/roles";
import { runtimeEntry } from "../../../components/core/artifact";
import { FunctionApp, validateFunctionAppArgs } from "../../../components/azure/function-app";
import { echoRuntime } from "../../fixtures/azure-echo-runtime";
import { startDynamicProviderHost } from "../../../cli/language-host";

const echoEntry = runtimeEntry(echoRuntime, { queueName: "in" });
const WEB_APP = "azure-native:web:WebApp";
const FLEX_DEPLOYMENT = "pulumi-nodejs:dynamic/queue-patterns:FlexDeployment";

describe("FunctionApp", () => {
  let app: FunctionApp;
  before(async () => {
    app = new FunctionApp("ingest", {
      resourceGroupName: "rg",
      entry: echoEntry,
      functionNames: ["echo"],
      callbacks: { handler: async () => "ok" },
      environment: { Data__queueServiceUri: "https://data.queue.core.windows.net" },
    });
    await resolve(app.principalId);
    await resolve(app.deployment.urn);
    await recorder.settle();
  });

  it("runs on a Flex Consumption (FC1) Linux plan", () => {
    const plan = recorder.named("azure-native:web:AppServicePlan", "ingest-plan").inputs;
    assert.deepEqual(plan.sku, { tier: "FlexConsumption", name: "FC1" });
    assert.equal(plan.reserved, true);
  });

  it("runs the newest Node.js Flex Consumption supports, 24, through functionAppConfig (flex-consumption-plan: supported language stack versions)", () => {
    assert.deepEqual(recorder.named(WEB_APP, "ingest-app").inputs.functionAppConfig.runtime, {
      name: "node",
      version: "24",
    });
  });

  it("builds its bundle for that Node.js and declares it in the package's engines, so the artifact runs on that Node", async () => {
    const artifact = await resolve(app.artifact);
    const packageJson = JSON.parse(artifact.files["package.json"]);
    assert.deepEqual(packageJson.engines, { node: "24.x" });
    assert.deepEqual(Object.keys(unzipSync(Buffer.from(artifact.zipBase64, "base64"))).sort(), [
      "host.json",
      "index.js",
      "package.json",
    ]);
  });

  it("deploys from its own container with its identity, HTTPS only", () => {
    const { inputs } = recorder.named(WEB_APP, "ingest-app");
    assert.equal(inputs.kind, "functionapp,linux");
    assert.deepEqual(inputs.identity, { type: "SystemAssigned" });
    const host = recorder.named("azure-native:storage:StorageAccount", "ingest-host");
    const container = recorder.named("azure-native:storage:BlobContainer", "ingest-deployments");
    assert.deepEqual(inputs.functionAppConfig.deployment.storage, {
      type: "blobContainer",
      value: `${host.state.primaryEndpoints.blob}${container.state.name}`,
      authentication: { type: "SystemAssignedIdentity" },
    });
    assert.equal(inputs.httpsOnly, true);
  });

  it("sends Flex only the site configuration it accepts: TLS 1.2 and the app settings, none of azure-native's defaults such as netFrameworkVersion (pulumi-azure-native #4168)", () => {
    // What the engine receives, after the SDK applied siteConfigArgsProvideDefaults.
    const { siteConfig } = recorder.named(WEB_APP, "ingest-app").inputs;
    assert.deepEqual(Object.keys(siteConfig).sort(), ["appSettings", "minTlsVersion"]);
    assert.equal(siteConfig.minTlsVersion, "1.2");
  });

  it("connects to host storage and Application Insights by identity, with no key in any app setting", () => {
    const settings = Object.fromEntries(
      recorder.named(WEB_APP, "ingest-app").inputs.siteConfig.appSettings.map((s: any) => [s.name, s.value]),
    );
    const host = recorder.named("azure-native:storage:StorageAccount", "ingest-host");
    assert.equal(settings.AzureWebJobsStorage__accountName, host.state.name);
    assert.equal(settings.AzureWebJobsStorage, undefined);
    assert.equal(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING, "Authorization=AAD");
    assert.equal(settings.Data__queueServiceUri, "https://data.queue.core.windows.net");
    assert.equal(settings.WEBSITE_RUN_FROM_PACKAGE, undefined, "Flex does not support run-from-package");
    for (const [name, value] of Object.entries(settings)) {
      assert.doesNotMatch(String(value), /AccountKey=|SharedAccessKey|sig=/, name);
    }
  });

  it("hardens its host storage: TLS 1.2, HTTPS only, no public blobs, no shared keys", () => {
    const { inputs } = recorder.named("azure-native:storage:StorageAccount", "ingest-host");
    assert.equal(inputs.minimumTlsVersion, "TLS1_2");
    assert.equal(inputs.enableHttpsTrafficOnly, true);
    assert.equal(inputs.allowBlobPublicAccess, false);
    assert.equal(inputs.allowSharedKeyAccess, false);
    assert.match(inputs.accountName, /^[a-z0-9]{3,24}$/);
    assert.equal(
      recorder.named("azure-native:storage:BlobContainer", "ingest-deployments").inputs.publicAccess,
      "None",
    );
  });

  it("accepts telemetry only from Entra identities", () => {
    const insights = recorder.named("azure-native:applicationinsights:Component", "ingest-insights").inputs;
    assert.equal(insights.disableLocalAuth, true);
    assert.equal(
      insights.workspaceResourceId,
      recorder.named("azure-native:operationalinsights:Workspace", "ingest-logs").state.id,
    );
  });

  it("grants its identity exactly Blob Data Owner and Table Data Contributor (diagnostic events, AZFD0003) on its host storage and Metrics Publisher on its telemetry", () => {
    const principal = recorder.named(WEB_APP, "ingest-app").state.identity.principalId;
    const grants = recorder
      .ofType("azure-native:authorization:RoleAssignment")
      .filter((r) => r.name.startsWith("ingest-"))
      .map((r) => [r.inputs.principalId, r.inputs.principalType, r.inputs.roleDefinitionId, r.inputs.scope]);
    const roleId = (id: string) =>
      `/subscriptions/${MOCK_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${id}`;
    const hostStorage = recorder.named("azure-native:storage:StorageAccount", "ingest-host").state.id;
    assert.deepEqual(grants, [
      [principal, "ServicePrincipal", roleId(BUILT_IN_ROLES["Storage Blob Data Owner"]), hostStorage],
      [principal, "ServicePrincipal", roleId(BUILT_IN_ROLES["Storage Table Data Contributor"]), hostStorage],
      [
        principal,
        "ServicePrincipal",
        roleId(BUILT_IN_ROLES["Monitoring Metrics Publisher"]),
        recorder.named("azure-native:applicationinsights:Component", "ingest-insights").state.id,
      ],
    ]);
  });

  it("deploys the artifact's hash to the app's SCM host", async () => {
    const artifact = await resolve(app.artifact);
    const deployment = recorder.named(FLEX_DEPLOYMENT, "ingest-code");
    assert.equal(deployment.inputs.packageSha256, artifact.sha256);
    assert.equal(
      deployment.inputs.scmUrl,
      `https://${recorder.named(WEB_APP, "ingest-app").state.name}.scm.azurewebsites.net`,
    );
    assert.equal(fs.readFileSync(deployment.inputs.packagePath).toString("base64"), artifact.zipBase64);
  });

  it("registers its deployment without any token: the provider fetches them itself, so none is stored in the state", () => {
    const deployment = recorder.named(FLEX_DEPLOYMENT, "ingest-code");
    const { __provider: _provider, ...inputs } = deployment.inputs;
    assert.deepEqual(Object.keys(inputs).sort(), [
      "deploymentStorageUrl",
      "functionNames",
      "packagePath",
      "packageSha256",
      "scmUrl",
      "siteId",
      "timeoutSeconds",
    ]);
    assert.doesNotMatch(JSON.stringify(inputs), /mock-token|Bearer/);
    assert.deepEqual(
      recorder.calls.filter((c) => c.token === "azure-native:authorization:getClientToken"),
      [],
      "no token is minted when the program runs",
    );
  });

  it("waits for the functions its entry registers, at the app's own site id", () => {
    const deployment = recorder.named(FLEX_DEPLOYMENT, "ingest-code");
    assert.deepEqual(deployment.inputs.functionNames, ["echo"]);
    assert.equal(deployment.inputs.siteId, recorder.named(WEB_APP, "ingest-app").state.id);
    assert.equal(deployment.inputs.timeoutSeconds, 1200);
  });

  it("redeploys against the container the app reads its package from: the deployment knows the app's deployment storage", () => {
    const deployment = recorder.named(FLEX_DEPLOYMENT, "ingest-code");
    const site = recorder.named(WEB_APP, "ingest-app");
    assert.equal(deployment.inputs.deploymentStorageUrl, site.state.functionAppConfig.deployment.storage.value);
    assert.match(deployment.inputs.deploymentStorageUrl, /^https:\/\/.+\.blob\.core\.windows\.net\/.+/);
  });

  it("registers a provider that loads in Pulumi's dynamic-provider host (its captured modules resolve there) and redeploys a replaced host account", async () => {
    const deployment = recorder.named(FLEX_DEPLOYMENT, "ingest-code");
    assert.equal(typeof deployment.inputs.__provider, "string");
    const host = await startDynamicProviderHost();
    try {
      const olds = { ...deployment.inputs, deploymentId: "d1", statusText: "success", functions: ["echo"] };
      assert.equal(await host.diff("id", olds, deployment.inputs), "none");
      assert.equal(
        await host.diff("id", olds, {
          ...deployment.inputs,
          deploymentStorageUrl: "https://replaced.blob.core.windows.net/ingest-deployments",
        }),
        "some",
      );
    } finally {
      await host.stop();
    }
  });
});

describe("FunctionApp argument validation", () => {
  const owner = 'FunctionApp "x"';
  const rejected: { what: string; args: Parameters<typeof validateFunctionAppArgs>[1]; message: string | RegExp }[] = [
    {
      what: "an instance size Flex does not offer",
      args: { instanceMemoryMb: 1024 as 2048 },
      message: `${owner}: instanceMemoryMb 1024 is not a Flex Consumption instance size; use 2048 or 4096.`,
    },
    {
      what: "more than 1000 instances",
      args: { maximumInstanceCount: 5000 },
      message: `${owner}: maximumInstanceCount 5000 is out of range; Flex Consumption allows 1..1000.`,
    },
    {
      what: "a Node.js version Flex does not run",
      args: { nodeVersion: "18" as "22" },
      message: `${owner}: nodeVersion "18" is not offered for Node.js Functions on Flex Consumption; use "24" or "22".`,
    },
    {
      what: "Node.js 20, past its end of life and no longer listed for Flex",
      args: { nodeVersion: "20" as "22" },
      message: `${owner}: nodeVersion "20" is not offered for Node.js Functions on Flex Consumption; use "24" or "22" (Node.js 20 reached its end of life on 2026-04-30).`,
    },
    {
      what: "a permission whose role is neither a known role nor a role definition GUID",
      args: {
        permissions: {
          cosmos: { role: "Cosmos DB Data Writer" as "Key Vault Secrets User", scope: "/subscriptions/s" },
        },
      },
      message:
        /^FunctionApp "x": permissions\.cosmos\.role "Cosmos DB Data Writer" is neither a role this library knows .* nor a role definition GUID/,
    },
    {
      what: "a deployment timeout under a minute",
      args: { deploymentTimeoutSeconds: 10 },
      message: `${owner}: deploymentTimeoutSeconds 10 is out of range; the deployer allows 60..7200.`,
    },
  ];
  for (const row of rejected) {
    it(`rejects ${row.what}`, () => {
      assert.throws(() => validateFunctionAppArgs(owner, row.args).throwIfAny(), { message: row.message });
    });
  }

  it("keeps Node.js 22 selectable", () => {
    assert.deepEqual(validateFunctionAppArgs(owner, { nodeVersion: "22" }).list(), []);
  });

  it("names the setting under the prefix a component gives it", () => {
    assert.deepEqual(
      validateFunctionAppArgs(owner, { maximumInstanceCount: 0 }, "function.")
        .list()
        .map((p) => p.argument),
      ["function.maximumInstanceCount"],
    );
  });

  it("throws the problems from the constructor, naming the app", () => {
    assert.throws(
      () =>
        new FunctionApp("bad", {
          resourceGroupName: "rg",
          entry: echoEntry,
          functionNames: ["echo"],
          callbacks: { handler: async () => "ok" },
          instanceMemoryMb: 1024 as 2048,
        }),
      {
        message: 'FunctionApp "bad": instanceMemoryMb 1024 is not a Flex Consumption instance size; use 2048 or 4096.',
      },
    );
  });

  it("refuses an app setting the Functions host reads for itself, which the block would override", () => {
    assert.throws(
      () =>
        new FunctionApp("storage", {
          resourceGroupName: "rg",
          entry: echoEntry,
          callbacks: { handler: async () => "ok" },
          functionNames: ["echo"],
          environment: { AzureWebJobsStorage__accountName: "other" },
        }),
      {
        message:
          'FunctionApp "storage": environment.AzureWebJobsStorage__accountName "other" names a setting of the Functions host ' +
          "(AzureWebJobsStorage...), which the Function App sets itself; choose another name.",
      },
    );
  });

  it("refuses a transform that puts back a site property Flex rejects", () => {
    assert.throws(
      () =>
        new FunctionApp("legacy", {
          resourceGroupName: "rg",
          entry: echoEntry,
          functionNames: ["echo"],
          callbacks: { handler: async () => "ok" },
          transform: {
            webApp: (args) => ({ ...args, siteConfig: { ...(args.siteConfig as object), ftpsState: "Disabled" } }),
          },
        }),
      /FunctionApp "legacy": transform.webApp sets siteConfig.ftpsState, which Flex Consumption rejects/,
    );
  });
});
