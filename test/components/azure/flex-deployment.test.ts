/**
 * One deploy (FlexDeployment's publishPackage) against a Flex app on loopback (test/harness/fakes/kudu.ts):
 * each test plays one documented or reported behaviour of the platform.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { ClientAssertionCredential, ClientSecretCredential, DefaultAzureCredential } from "@azure/identity";
import {
  APP_SERVICE_TOKEN_AUDIENCE,
  deployerCredential,
  deploymentDiff,
  FUNCTION_LISTING_TIMEOUT_SECONDS,
  isRolePropagationAnswer,
  type PublishEnvironment,
  type PublishInputs,
  publishPackage,
} from "../../../components/azure/flex-provider";
import { scmUrlOf } from "../../../components/azure/flex-deployment";
import {
  DEPLOYED_FUNCTIONS,
  FakeClock,
  type FakeKudu,
  NEW_DEPLOYMENT_ID,
  SITE_ID,
  startFakeKudu,
} from "../../harness/fakes/kudu";

/** What Kudu answers (400) when the app's identity cannot yet write to its deployment container. */
const STORAGE_403_WHILE_ROLE_PROPAGATES =
  "[StorageAccessibleCheck] Error while checking access to storage account using Kudu.Legion.Core.Storage.BlobContainerStorage: " +
  "BlobUploadFailedException: Failed to upload blob to storage account: Response status code does not indicate success: " +
  "403 (This request is not authorized to perform this operation using this permission.).";

const TIMEOUT_SECONDS = 600;
const packagePath = path.join(os.tmpdir(), `qp-onedeploy-${process.pid}.zip`);
let clock: FakeClock;
let kudu: FakeKudu;
let environment: PublishEnvironment;
/** The tokens the publisher asked for, in turn: a new token per request, numbered per audience. */
let tokenRequests: { audience: string; fresh: boolean }[];
const tokenFor = (audience: string, n: number) =>
  `${audience === APP_SERVICE_TOKEN_AUDIENCE ? "app-service" : "arm"}-token-${n}`;

before(async () => {
  fs.writeFileSync(packagePath, Buffer.from("PK-test-package"));
  clock = new FakeClock();
  kudu = await startFakeKudu(clock);
  environment = {
    fetch: (...args) => fetch(...args),
    sleep: clock.sleep,
    now: clock.now,
    pollIntervalMs: 2000,
    token: async (audience, fresh) => {
      tokenRequests.push({ audience, fresh });
      return tokenFor(audience, tokenRequests.filter((t) => t.audience === audience).length);
    },
  };
});
after(async () => {
  await kudu.stop();
  fs.rmSync(packagePath, { force: true });
});
beforeEach(() => {
  clock.sleeps.length = 0;
  tokenRequests = [];
});

const inputs = (): PublishInputs => ({
  scmUrl: kudu.url,
  armUrl: kudu.url,
  siteId: SITE_ID,
  deploymentStorageUrl: "https://host1.blob.core.windows.net/app-deployments",
  functionNames: DEPLOYED_FUNCTIONS,
  packagePath,
  packageSha256: "abc",
  timeoutSeconds: TIMEOUT_SECONDS,
});
const requests = (method: string, pathPrefix: string) =>
  kudu.seen.filter((r) => r.method === method && r.path.startsWith(pathPrefix));

describe("one deploy: the POST", () => {
  it("posts the zip bytes to /api/publish with an App Service bearer token fetched for it, and no remote build", async () => {
    kudu.play({});
    await publishPackage(inputs(), environment);
    const [publish] = requests("POST", "/api/publish");
    assert.equal(publish.headers.authorization, "Bearer app-service-token-1");
    assert.equal(publish.headers["content-type"], "application/zip");
    assert.equal(publish.body, "PK-test-package");
    assert.ok(kudu.seen.some((r) => r.path === "/api/publish"));
  });

  it("retries the 403 that follows a fresh role grant, with growing waits, until the grant applies (azd #4439, endjin ZeroFailed)", async () => {
    kudu.play({
      publish: [
        { status: 403, body: "Forbidden" },
        { status: 403, body: "Forbidden" },
      ],
    });
    const result = await publishPackage(inputs(), environment);
    assert.equal(result.deploymentId, NEW_DEPLOYMENT_ID);
    assert.equal(requests("POST", "/api/publish").length, 3);
    const [first, second] = clock.sleeps;
    assert.ok(second > first, `backoff grows: ${clock.sleeps.join(", ")}`);
  });

  it("retries 400 BlobUploadFailedException around a storage 403: the app identity's new role on its container propagating", async () => {
    kudu.play({ publish: [{ status: 400, body: STORAGE_403_WHILE_ROLE_PROPAGATES }] });
    await publishPackage(inputs(), environment);
    assert.equal(requests("POST", "/api/publish").length, 2);
  });

  it("fails at once on a 400 that is not about permissions, with Kudu's text", async () => {
    const invalidName =
      "BlobUploadFailedException: Failed to upload blob to storage account: Response status code does not indicate success: 400 (The specifed resource name contains invalid characters.).";
    kudu.play({ publish: [{ status: 400, body: invalidName }] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /failed: HTTP 400 BlobUploadFailedException.*invalid characters/,
    );
    assert.equal(requests("POST", "/api/publish").length, 1);
  });

  it("stops retrying a refusal that outlasts the deadline, with bounded waits and the permission the deployer needs", async () => {
    kudu.play({ publish: Array.from({ length: 1000 }, () => ({ status: 403, body: "Forbidden" })) });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /HTTP 403 Forbidden \(still refused after \d+ attempts within 600 s\); the deployer needs Microsoft\.Web\/sites\/publish\/Action on the app \(Website Contributor\)/,
    );
    assert.ok(
      clock.sleeps.every((ms) => ms <= 60_000),
      `waits: ${clock.sleeps.join(", ")}`,
    );
    assert.ok(clock.sleeps.reduce((a, b) => a + b, 0) <= TIMEOUT_SECONDS * 1000, "the waits fit in the deadline");
  });

  it("retries the post while another deployment holds the site (409)", async () => {
    kudu.play({
      publish: [
        { status: 409, body: "busy" },
        { status: 409, body: "busy" },
      ],
    });
    await publishPackage(inputs(), environment);
    assert.equal(requests("POST", "/api/publish").length, 3);
  });

  it("retries a refused token (401) once, with a freshly fetched token, and goes on", async () => {
    kudu.play({ publish: [{ status: 401, body: "Unauthorized" }] });
    await publishPackage(inputs(), environment);
    const posts = requests("POST", "/api/publish");
    assert.deepEqual(
      posts.map((r) => r.headers.authorization),
      ["Bearer app-service-token-1", "Bearer app-service-token-2"],
    );
    assert.deepEqual(tokenRequests.slice(0, 2), [
      { audience: APP_SERVICE_TOKEN_AUDIENCE, fresh: false },
      { audience: APP_SERVICE_TOKEN_AUDIENCE, fresh: true },
    ]);
    assert.equal(posts[1].at, posts[0].at, "the retry does not wait");
  });

  it("fails when a fresh token is refused too, saying so and what to sign in to", async () => {
    kudu.play({
      publish: [
        { status: 401, body: "Unauthorized" },
        { status: 401, body: "Unauthorized" },
      ],
    });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /one deploy to .* failed: HTTP 401 Unauthorized; a token for https:\/\/appservice\.azure\.com was refused twice, the second one freshly fetched\. Sign in to the tenant of the app/,
    );
    assert.equal(requests("POST", "/api/publish").length, 2);
  });

  it("retries a refused ARM token (401) once while syncing the triggers, and fails on a second refusal", async () => {
    kudu.play({ sync: [401, 204] });
    await publishPackage(inputs(), environment);
    assert.deepEqual(
      requests("POST", `${SITE_ID}/host/default/sync`).map((r) => r.headers.authorization),
      ["Bearer arm-token-1", "Bearer arm-token-2"],
    );
    kudu.play({ sync: [401, 401, 204] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /syncing the triggers of .* failed: HTTP 401 .*a token for https:\/\/management\.azure\.com was refused twice/,
    );
  });

  it("fetches a token for every request, so none outlives a long wait", async () => {
    kudu.play({ publish: Array.from({ length: 5 }, () => ({ status: 403, body: "Forbidden" })) });
    await publishPackage(inputs(), environment);
    const appServiceTokens = requests("POST", "/api/publish").map((r) => r.headers.authorization);
    assert.equal(new Set(appServiceTokens).size, appServiceTokens.length, appServiceTokens.join(", "));
  });

  it("says where the deployment signs in when no credential gives a token", async () => {
    kudu.play({});
    await assert.rejects(
      publishPackage(inputs(), {
        ...environment,
        token: async () => {
          throw new Error("DefaultAzureCredential: no credential in the chain");
        },
      }),
      /no Azure token for https:\/\/appservice\.azure\.com: DefaultAzureCredential: no credential in the chain\. The deployment signs in where `pulumi up` runs: ARM_CLIENT_ID with ARM_CLIENT_SECRET or ARM_OIDC_TOKEN and ARM_TENANT_ID, the AZURE_\* variables, a managed identity, or `az login`/,
    );
  });

  it("tells the role-propagation answers apart from the others", () => {
    assert.equal(isRolePropagationAnswer(403, ""), true);
    assert.equal(isRolePropagationAnswer(400, STORAGE_403_WHILE_ROLE_PROPAGATES), true);
    assert.equal(isRolePropagationAnswer(400, "Bad package"), false);
    assert.equal(isRolePropagationAnswer(404, ""), false);
  });
});

describe("one deploy: following the deployment", () => {
  it("follows the deployment by the id the POST returned, never /api/deployments/latest, which can still show the previous one (azure-cli PR #20261)", async () => {
    // latest keeps showing the previous, successful deployment while this one fails.
    kudu.play({ deployment: [{ status: 1 }, { status: 1 }, { status: 3, status_text: "Package is not a zip file." }] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      new RegExp(`one deploy ${NEW_DEPLOYMENT_ID} to .* ended with status 3: Package is not a zip file\\.`),
    );
    assert.equal(requests("GET", "/api/deployments/latest").length, 0);
    assert.equal(requests("GET", `/api/deployments/${NEW_DEPLOYMENT_ID}`).length, 3);
  });

  it("does not take a 404 for success: a failed Flex deployment can vanish as 'Deployment not found' (azd #4439)", async () => {
    kudu.play({ deployment: [{ status: 1 }, null] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /was still not found \(404\) after 600 s; Flex reports some failed deployments this way/,
    );
    assert.equal(
      requests("POST", `${SITE_ID}/host/default/sync`).length,
      0,
      "no trigger sync for a deployment that never succeeded",
    );
  });

  it("keeps polling through 404s until the deployment shows up and succeeds", async () => {
    kudu.play({ deployment: [null, null, { status: 1 }, { status: 4, status_text: "Deployment successful." }] });
    const result = await publishPackage(inputs(), environment);
    assert.equal(result.statusText, "Deployment successful.");
  });

  it("fails with Kudu's status text and log when the deployment fails, and checks no host", async () => {
    kudu.play({
      deployment: [
        { status: 2 },
        { status: 3, status_text: "Failed to deploy package.", log_url: `${SITE_ID}/deployments/x/log` },
      ],
    });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /ended with status 3: Failed to deploy package\. \(log: .*\/deployments\/x\/log\)/,
    );
    assert.equal(requests("GET", `${SITE_ID}/functions`).length, 0);
  });
});

describe("one deploy: the functions after the deployment", () => {
  it("syncs the triggers through ARM with an ARM token after Kudu's success, then finds every function of the package listed", async () => {
    kudu.play({});
    const result = await publishPackage(inputs(), environment);
    assert.deepEqual(result.functions.sort(), [...DEPLOYED_FUNCTIONS].sort());
    const [sync] = requests("POST", `${SITE_ID}/host/default/sync`);
    assert.equal(sync.headers.authorization, "Bearer arm-token-1");
    const succeededAt = requests("GET", `/api/deployments/${NEW_DEPLOYMENT_ID}`).at(-1)?.at ?? Infinity;
    assert.ok(sync.at >= succeededAt, "the sync follows Kudu's success");
    const [listing] = requests("GET", `${SITE_ID}/functions`);
    assert.ok(listing.at >= sync.at);
    assert.match(listing.headers.authorization ?? "", /^Bearer arm-token-\d+$/);
  });

  it("does not take a listing of only WarmUp for success: it syncs again until the package's functions appear (functions-action #373)", async () => {
    // The host answers the first syncs as a starting host does; only the third is accepted.
    kudu.play({ unsynced: "warmup-only", sync: [400, 503, 204] });
    const result = await publishPackage(inputs(), environment);
    assert.deepEqual(result.functions.sort(), [...DEPLOYED_FUNCTIONS].sort());
    assert.equal(requests("POST", `${SITE_ID}/host/default/sync`).length, 3);
    assert.ok(requests("GET", `${SITE_ID}/functions`).length > 3, "the list was read between the syncs");
  });

  it("fails within its bound when only WarmUp stays listed, naming the missing functions and where to look", async () => {
    kudu.play({ unsynced: "warmup-only", deployedFunctions: null });
    const started = clock.now();
    await assert.rejects(
      publishPackage(inputs(), environment),
      new RegExp(
        `one deploy ${NEW_DEPLOYMENT_ID} to .* succeeded, but after syncing its triggers Azure lists only WarmUp listed, not chunk, ingest within ${FUNCTION_LISTING_TIMEOUT_SECONDS} s .*` +
          "Look at the app's Functions list in the portal \\(or `az functionapp function list`\\), its Deployment Center, and the host's startup logs in Application Insights",
      ),
    );
    const waited = clock.now() - started;
    assert.ok(waited <= (FUNCTION_LISTING_TIMEOUT_SECONDS + 60) * 1000, `waited ${waited} ms`);
    assert.ok(
      requests("POST", `${SITE_ID}/host/default/sync`).length > 1,
      "the sync was sent again while functions were missing",
    );
  });

  it("fails the same way when no function is listed at all (azure-functions-host #11915)", async () => {
    kudu.play({ unsynced: "none", deployedFunctions: null });
    await assert.rejects(publishPackage(inputs(), environment), /Azure lists no function listed within/);
  });

  it("fails when some of the package's functions are missing from the list", async () => {
    kudu.play({ deployedFunctions: ["chunk"] });
    await assert.rejects(publishPackage(inputs(), environment), /only chunk listed, not ingest/);
  });

  it("fails at once, naming the permission, when the deployer may not sync triggers (403)", async () => {
    kudu.play({ sync: [403] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /syncing the triggers of .* failed: HTTP 403 .*; the deployer needs Microsoft\.Web\/sites\/host\/sync\/action on the app \(Website Contributor\)\./,
    );
  });

  it("keeps reading the list through ARM's transient answers (429, 5xx)", async () => {
    kudu.play({ listFunctions: [429, 503, 200] });
    const result = await publishPackage(inputs(), environment);
    assert.deepEqual(result.functions.sort(), [...DEPLOYED_FUNCTIONS].sort());
  });

  it("never reads the host's admin API: a host process older than the deployment (an instance specialized from placeholder mode) says nothing", async () => {
    kudu.play({});
    await publishPackage(inputs(), environment);
    assert.equal(kudu.seen.filter((r) => r.path.startsWith("/admin/")).length, 0);
    assert.equal(requests("POST", `${SITE_ID}/host/default/listKeys`).length, 0, "no master key is needed");
  });
});

describe("one deploy: the resource", () => {
  it("redeploys when the package, the app or its deployment container changes, not for a new local path", () => {
    const base = inputs();
    assert.equal(deploymentDiff(base, { ...base, packagePath: "/elsewhere.zip" }).changes, false);
    assert.equal(deploymentDiff(base, { ...base, packageSha256: "def" }).changes, true);
    assert.equal(deploymentDiff(base, { ...base, scmUrl: "https://other" }).changes, true);
    assert.equal(deploymentDiff(base, { ...base, siteId: `${SITE_ID}-2` }).changes, true);
  });

  it("redeploys when the host account is replaced: the app then reads a new, empty deployment container", () => {
    const base = inputs();
    const replacedHost = { ...base, deploymentStorageUrl: "https://host2.blob.core.windows.net/app-deployments" };
    assert.equal(deploymentDiff(base, replacedHost).changes, true);
  });

  it("signs in as azure-native does from the environment: ARM_* service principal, ARM_* OIDC, else DefaultAzureCredential", () => {
    const principal = { ARM_CLIENT_ID: "id", ARM_TENANT_ID: "tenant" };
    assert.ok(deployerCredential({ ...principal, ARM_CLIENT_SECRET: "secret" }) instanceof ClientSecretCredential);
    assert.ok(deployerCredential({ ...principal, ARM_OIDC_TOKEN: "jwt" }) instanceof ClientAssertionCredential);
    assert.ok(deployerCredential({}) instanceof DefaultAzureCredential);
    assert.ok(
      deployerCredential({ ARM_CLIENT_SECRET: "secret" }) instanceof DefaultAzureCredential,
      "no tenant, no id",
    );
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
