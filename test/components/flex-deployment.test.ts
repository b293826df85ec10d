/**
 * One deploy (FlexDeployment's publishPackage) against a Flex app on loopback (test/harness/fakes/kudu.ts):
 * each test plays one documented or reported behaviour of the platform.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  deploymentDiff,
  isRolePropagationAnswer,
  type PublishEnvironment,
  type PublishInputs,
  publishPackage,
  scmUrlOf,
} from "../../components/flex-deployment";
import { FakeClock, type FakeKudu, MASTER_KEY, NEW_DEPLOYMENT_ID, SITE_ID, startFakeKudu } from "../harness/fakes/kudu";

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

before(async () => {
  fs.writeFileSync(packagePath, Buffer.from("PK-test-package"));
  clock = new FakeClock();
  kudu = await startFakeKudu(clock);
  environment = { fetch: (...args) => fetch(...args), sleep: clock.sleep, now: clock.now, pollIntervalMs: 2000 };
});
after(async () => {
  await kudu.stop();
  fs.rmSync(packagePath, { force: true });
});
beforeEach(() => {
  clock.sleeps.length = 0;
});

const inputs = (): PublishInputs => ({
  scmUrl: kudu.url,
  hostUrl: kudu.url,
  armUrl: kudu.url,
  siteId: SITE_ID,
  packagePath,
  packageSha256: "abc",
  token: "app-service-token",
  armToken: "arm-token",
  timeoutSeconds: TIMEOUT_SECONDS,
});
const requests = (method: string, pathPrefix: string) =>
  kudu.seen.filter((r) => r.method === method && r.path.startsWith(pathPrefix));

describe("one deploy: the POST", () => {
  it("posts the zip bytes to /api/publish with the App Service bearer token and no remote build", async () => {
    kudu.play({});
    await publishPackage(inputs(), environment);
    const [publish] = requests("POST", "/api/publish");
    assert.equal(publish.headers.authorization, "Bearer app-service-token");
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

  it("fails at once with the HTTP status when the token is refused (401)", async () => {
    kudu.play({ publish: [{ status: 401, body: "Unauthorized" }] });
    await assert.rejects(publishPackage(inputs(), environment), /failed: HTTP 401 Unauthorized; the token was refused/);
    assert.equal(requests("POST", "/api/publish").length, 1);
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
      requests("GET", "/admin/host/status").length,
      0,
      "no host check for a deployment that never succeeded",
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
    assert.equal(requests("GET", "/admin/host/status").length, 0);
  });
});

describe("one deploy: the host after the deployment", () => {
  it("lists the host's master key through ARM with the ARM token and asks the host admin API for its status with it", async () => {
    kudu.play({});
    const result = await publishPackage(inputs(), environment);
    assert.equal(result.hostState, "Running");
    const [listKeys] = requests("POST", `${SITE_ID}/host/default/listKeys`);
    assert.equal(listKeys.headers.authorization, "Bearer arm-token");
    const [status] = requests("GET", "/admin/host/status");
    assert.equal(status.headers["x-functions-key"], MASTER_KEY);
  });

  it("finishes only once the host runs the new package: Running, in a process started after the post", async () => {
    kudu.play({ host: [503, "old-process", "old-process", "old-process", "new-process"] });
    const result = await publishPackage(inputs(), environment);
    assert.equal(result.hostState, "Running");
    const polls = requests("GET", "/admin/host/status");
    assert.equal(polls.length, 5, "503 and the old host process were not taken for the new package");
    const posted = requests("POST", "/api/publish")[0].at;
    assert.ok(polls[4].at > posted);
  });

  it("fails with the host's errors when it never runs the new package", async () => {
    kudu.play({ host: [{ state: "Error", errors: ['Worker was unable to load entry point "index.js"'] }] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /succeeded, but the Functions host at .* did not run the new package within 600 s \(last: state Error, errors: Worker was unable to load entry point "index\.js"\)/,
    );
  });

  it("waits while listing the host keys is refused (403) as the deployer's role propagates, and names the permission if it never is", async () => {
    kudu.play({ listKeys: [403, 403, 200] });
    assert.equal((await publishPackage(inputs(), environment)).hostState, "Running");
    assert.equal(requests("POST", `${SITE_ID}/host/default/listKeys`).length, 3);

    kudu.play({ listKeys: [403] });
    await assert.rejects(
      publishPackage(inputs(), environment),
      /last: listing the host keys answered HTTP 403 .*the deployer needs Microsoft\.Web\/sites\/host\/listkeys\/action on the app/,
    );
  });

  it("says so when the host keeps running the old package", async () => {
    kudu.play({ host: ["old-process"] });
    await assert.rejects(publishPackage(inputs(), environment), /it started before the package was posted/);
  });
});

describe("one deploy: the resource", () => {
  it("redeploys only when the package hash or the target changes, not for fresh tokens or a new path", () => {
    const base = inputs();
    assert.equal(
      deploymentDiff(base, { ...base, token: "new", armToken: "new", packagePath: "/elsewhere.zip" }).changes,
      false,
    );
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
