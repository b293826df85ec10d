/**
 * One deploy against a deployed Flex Consumption app (`npm run test:cloud`; not part of `npm test`).
 *
 * The local tests play the platform's reported behaviours (test/harness/fakes/kudu.ts); what only a
 * real app can confirm is the shape those tests assume: that a deployment stays readable by its id
 * after Kudu recycled (so polling the id, not `latest`, is sound), that ARM's function list
 * (`GET <site>/functions`) names each function `<site>/<function>` and lists the ones the package
 * registers, and that ARM accepts a trigger sync (`POST <site>/host/default/sync`) with the
 * deployer's token. Role-propagation refusals, vanishing failed deployments and a listing of only
 * WarmUp cannot be produced on demand; they stay covered by the fakes.
 * It deploys nothing. The sync is its only write, run only when asked: it changes nothing the app
 * runs, it refreshes what the scale controller knows of its triggers.
 *
 * Needs:
 * - FLEX_APP_ID: the Function App's resource id (`/subscriptions/.../sites/<name>`), e.g. from
 *   `pulumi stack output` or the portal;
 * - optional FLEX_DEPLOYMENT_ID: the deployment id the stack's FlexDeployment recorded (its
 *   `deploymentId` output);
 * - optional FLEX_FUNCTIONS: the functions the app must list, comma-separated (its FlexDeployment's
 *   `functions` output, e.g. `chunk,ingest`); without it the list must merely hold more than WarmUp;
 * - optional FLEX_SYNC_TRIGGERS=1: also sync the triggers through ARM;
 * - an identity the deployment itself would sign in with (ARM_* or AZURE_* variables, or `az login`)
 *   with Website Contributor on the app.
 * Without FLEX_APP_ID every test is skipped.
 */
import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  APP_SERVICE_TOKEN_AUDIENCE,
  AZURE_RESOURCE_MANAGER,
  deployerCredential,
} from "../../components/azure/flex-provider";
import { scmUrlOf } from "../../components/azure/flex-deployment";

const siteId = process.env.FLEX_APP_ID;
const deploymentId = process.env.FLEX_DEPLOYMENT_ID;
const expectedFunctions = process.env.FLEX_FUNCTIONS?.split(",").map((name) => name.trim());
const skip = siteId ? false : "set FLEX_APP_ID to a deployed Flex Consumption app's resource id";
const API_VERSION = "2024-04-01";

describe("one deploy on a Flex Consumption app", { skip, timeout: 5 * 60_000 }, () => {
  const credential = deployerCredential(process.env);
  const bearer = async (audience: string) => `Bearer ${(await credential.getToken(`${audience}/.default`))?.token}`;
  let site: { properties: { hostNameSslStates: { name?: string; hostType?: string }[] } };

  before(async () => {
    const response = await fetch(`${AZURE_RESOURCE_MANAGER}${siteId}?api-version=${API_VERSION}`, {
      headers: { Authorization: await bearer(AZURE_RESOURCE_MANAGER) },
    });
    assert.equal(response.status, 200, await response.clone().text());
    site = (await response.json()) as typeof site;
  });

  it(
    "reads the stack's deployment by its id after Kudu recycled, with a final status",
    { skip: deploymentId ? false : "set FLEX_DEPLOYMENT_ID to the stack's FlexDeployment deploymentId output" },
    async () => {
      const scmUrl = scmUrlOf(site.properties.hostNameSslStates);
      const response = await fetch(`${scmUrl}/api/deployments/${deploymentId}`, {
        headers: { Authorization: await bearer(APP_SERVICE_TOKEN_AUDIENCE) },
      });
      assert.equal(response.status, 200, await response.clone().text());
      const deployment = (await response.json()) as { id: string; status: number };
      assert.equal(deployment.id, deploymentId);
      assert.ok([4, 6].includes(deployment.status), `status ${deployment.status}`);
    },
  );

  it(
    "accepts a trigger sync through ARM with the deployer's token",
    {
      skip: process.env.FLEX_SYNC_TRIGGERS === "1" ? false : "set FLEX_SYNC_TRIGGERS=1 to sync (the test's only write)",
    },
    async () => {
      const response = await fetch(`${AZURE_RESOURCE_MANAGER}${siteId}/host/default/sync?api-version=${API_VERSION}`, {
        method: "POST",
        headers: { Authorization: await bearer(AZURE_RESOURCE_MANAGER) },
      });
      assert.ok([200, 204].includes(response.status), `HTTP ${response.status} ${await response.text()}`);
    },
  );

  it("lists the package's functions in ARM, each named <site>/<function>", async () => {
    const response = await fetch(`${AZURE_RESOURCE_MANAGER}${siteId}/functions?api-version=${API_VERSION}`, {
      headers: { Authorization: await bearer(AZURE_RESOURCE_MANAGER) },
    });
    assert.equal(response.status, 200, await response.clone().text());
    const { value } = (await response.json()) as { value: { name: string }[] };
    const siteName = siteId?.split("/").at(-1);
    for (const listed of value) assert.match(listed.name, new RegExp(`^${siteName}/[^/]+$`));
    const names = value.map((listed) => listed.name.split("/").at(-1));
    if (expectedFunctions) {
      assert.deepEqual(
        expectedFunctions.filter((name) => !names.includes(name)),
        [],
        `listed: ${names.join(", ")}`,
      );
    } else {
      assert.ok(
        names.some((name) => name !== "WarmUp"),
        `listed only: ${names.join(", ") || "nothing"}`,
      );
    }
  });
});
