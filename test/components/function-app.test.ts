import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { installMocks, MOCK_SUBSCRIPTION, resolve } from "../harness/mocks";

const recorder = installMocks();

import { BUILT_IN_ROLES } from "../../components/azure-roles";
import { deploymentDiff, type PublishInputs, publishPackage, scmUrlOf } from "../../components/flex-deployment";
import { FunctionApp, validateFunctionAppArgs } from "../../components/function-app";

const echoEntry = {
  module: require.resolve("../fixtures/azure-echo-runtime"),
  factory: "register",
  options: { queueName: "in" },
};
const WEB_APP = "azure-native:web:WebApp";

describe("FunctionApp", () => {
  let app: FunctionApp;
  before(async () => {
    app = new FunctionApp("ingest", {
      resourceGroupName: "rg",
      entry: echoEntry,
      callbacks: { handler: async () => "ok" },
      appSettings: { Data__queueServiceUri: "https://data.queue.core.windows.net" },
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

  it("configures Node 22 through functionAppConfig and deploys from its own container with its identity", () => {
    const { inputs } = recorder.named(WEB_APP, "ingest-app");
    assert.equal(inputs.kind, "functionapp,linux");
    assert.deepEqual(inputs.identity, { type: "SystemAssigned" });
    assert.deepEqual(inputs.functionAppConfig.runtime, { name: "node", version: "22" });
    const host = recorder.named("azure-native:storage:StorageAccount", "ingest-host");
    const container = recorder.named("azure-native:storage:BlobContainer", "ingest-deployments");
    assert.deepEqual(inputs.functionAppConfig.deployment.storage, {
      type: "blobContainer",
      value: `${host.state.primaryEndpoints.blob}${container.state.name}`,
      authentication: { type: "SystemAssignedIdentity" },
    });
    assert.equal(inputs.httpsOnly, true);
    assert.equal(inputs.siteConfig.minTlsVersion, "1.2");
    assert.equal(inputs.siteConfig.ftpsState, "Disabled");
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

  it("grants its identity exactly Blob Data Owner on its host storage and Metrics Publisher on its telemetry", () => {
    const principal = recorder.named(WEB_APP, "ingest-app").state.identity.principalId;
    const grants = recorder
      .ofType("azure-native:authorization:RoleAssignment")
      .filter((r) => r.name.startsWith("ingest-"))
      .map((r) => [r.inputs.principalId, r.inputs.principalType, r.inputs.roleDefinitionId, r.inputs.scope]);
    const roleId = (id: string) =>
      `/subscriptions/${MOCK_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${id}`;
    assert.deepEqual(grants, [
      [
        principal,
        "ServicePrincipal",
        roleId(BUILT_IN_ROLES["Storage Blob Data Owner"]),
        recorder.named("azure-native:storage:StorageAccount", "ingest-host").state.id,
      ],
      [
        principal,
        "ServicePrincipal",
        roleId(BUILT_IN_ROLES["Monitoring Metrics Publisher"]),
        recorder.named("azure-native:applicationinsights:Component", "ingest-insights").state.id,
      ],
    ]);
  });

  it("deploys the artifact's hash to the app's SCM host with the App Service token", async () => {
    const artifact = await resolve(app.artifact);
    const deployment = recorder
      .ofType("pulumi-nodejs:dynamic/queue-patterns:FlexDeployment")
      .find((r) => r.name === "ingest-code");
    assert.ok(deployment, "a FlexDeployment was registered");
    assert.equal(deployment.inputs.packageSha256, artifact.sha256);
    assert.equal(
      deployment.inputs.scmUrl,
      `https://${recorder.named(WEB_APP, "ingest-app").state.name}.scm.azurewebsites.net`,
    );
    assert.equal(fs.readFileSync(deployment.inputs.packagePath).toString("base64"), artifact.zipBase64);
    const tokenCall = recorder.calls.find((c) => c.token === "azure-native:authorization:getClientToken");
    assert.deepEqual(tokenCall?.inputs, { endpoint: "https://appservice.azure.com" });
  });
});

describe("FunctionApp argument validation", () => {
  it("rejects an instance size Flex does not offer", () => {
    assert.throws(
      () =>
        new FunctionApp("bad", {
          resourceGroupName: "rg",
          entry: echoEntry,
          callbacks: {},
          instanceMemoryMb: 1024 as 2048,
        }),
      {
        message: 'FunctionApp "bad": instanceMemoryMb 1024 is not a Flex Consumption instance size; use 2048 or 4096.',
      },
    );
  });

  it("rejects more than 1000 instances", () => {
    const [problem] = validateFunctionAppArgs('FunctionApp "x"', { maximumInstanceCount: 5000 }).list();
    assert.equal(problem.argument, "maximumInstanceCount");
  });

  it("rejects a Node.js version Flex does not run", () => {
    const [problem] = validateFunctionAppArgs('FunctionApp "x"', { nodeVersion: "18" as "22" }).list();
    assert.equal(problem.argument, "nodeVersion");
  });
});

describe("one deploy (FlexDeployment)", () => {
  type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer };
  let server: http.Server;
  let scmUrl: string;
  let seen: Seen[] = [];
  /** What the fake Kudu answers: POST statuses in turn, then one status poll answer each (`null` = 404). */
  let script: { publish: number[]; statuses: ({ status: number; status_text?: string } | null)[] } = {
    publish: [],
    statuses: [],
  };
  const packagePath = path.join(os.tmpdir(), `qp-onedeploy-${process.pid}.zip`);
  const fast = {
    fetch: (...args: Parameters<typeof fetch>) => fetch(...args),
    sleep: async () => {},
    pollIntervalMs: 1,
  };

  before(async () => {
    fs.writeFileSync(packagePath, Buffer.from("PK-test-package"));
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
        if (req.url?.startsWith("/api/publish")) {
          const status = script.publish.shift() ?? 202;
          res.writeHead(status).end(status === 202 ? '"deployment-1"' : "busy");
        } else {
          const next = script.statuses.shift() ?? null;
          if (next === null) res.writeHead(404).end();
          else res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(next));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    scmUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    fs.rmSync(packagePath, { force: true });
  });

  const inputs = (): PublishInputs => ({ scmUrl, packagePath, packageSha256: "abc", token: "tkn", timeoutSeconds: 5 });

  it("posts the zip bytes to /api/publish with a bearer token, then polls until Kudu reports success", async () => {
    seen = [];
    script = { publish: [202], statuses: [{ status: 1 }, { status: 4, status_text: "Deployment successful." }] };
    const result = await publishPackage(inputs(), fast);
    assert.deepEqual(result, { deploymentId: "deployment-1", statusText: "Deployment successful." });
    const [publish, ...polls] = seen;
    assert.equal(publish.method, "POST");
    assert.equal(publish.url, "/api/publish?RemoteBuild=false&Deployer=queue-patterns");
    assert.equal(publish.headers.authorization, "Bearer tkn");
    assert.equal(publish.headers["content-type"], "application/zip");
    assert.equal(publish.body.toString(), "PK-test-package");
    assert.deepEqual(
      polls.map((p) => [p.method, p.url, p.headers.authorization]),
      [
        ["GET", "/api/deployments/latest", "Bearer tkn"],
        ["GET", "/api/deployments/latest", "Bearer tkn"],
      ],
    );
  });

  it("retries the post while another deployment holds the site (409)", async () => {
    seen = [];
    script = { publish: [409, 409, 202], statuses: [{ status: 4 }] };
    await publishPackage(inputs(), fast);
    assert.equal(seen.filter((s) => s.method === "POST").length, 3);
  });

  it("fails with Kudu's status text when the deployment fails", async () => {
    script = { publish: [202], statuses: [{ status: 3, status_text: "Bad package" }] };
    await assert.rejects(publishPackage(inputs(), fast), /ended with status 3: Bad package/);
  });

  it("fails with the HTTP status when the token is refused", async () => {
    script = { publish: [401], statuses: [] };
    await assert.rejects(publishPackage(inputs(), fast), /one deploy to http:\/\/127\.0\.0\.1:\d+ failed: HTTP 401/);
  });

  it("keeps polling through a 404 until Kudu has shown the deployment, and takes a later 404 as a recycled host", async () => {
    seen = [];
    script = { publish: [202], statuses: [null, { status: 2 }, null] };
    const result = await publishPackage(inputs(), fast);
    assert.equal(result.statusText, "finished (deployment host recycled)");
    assert.equal(seen.filter((s) => s.method === "GET").length, 3);
  });

  it("fails after the timeout when the deployment never shows up", async () => {
    script = { publish: [202], statuses: [] };
    await assert.rejects(publishPackage({ ...inputs(), timeoutSeconds: 0.2 }, fast), /did not finish within 0.2 s/);
  });

  it("redeploys only when the package hash or the target changes, not for a fresh token or path", () => {
    const base = inputs();
    assert.equal(deploymentDiff(base, { ...base, token: "new", packagePath: "/elsewhere.zip" }).changes, false);
    assert.equal(deploymentDiff(base, { ...base, packageSha256: "def" }).changes, true);
    assert.equal(deploymentDiff(base, { ...base, scmUrl: "https://other" }).changes, true);
  });

  it("finds the SCM host among the site's host names", () => {
    assert.equal(
      scmUrlOf([
        { name: "app-x1.westeurope-01.azurewebsites.net", hostType: "Standard" },
        { name: "app-x1.scm.westeurope-01.azurewebsites.net", hostType: "Repository" },
      ]),
      "https://app-x1.scm.westeurope-01.azurewebsites.net",
    );
    assert.throws(() => scmUrlOf([]), /no Repository \(SCM\) host name/);
  });
});
