/**
 * One deploy against a deployed Flex Consumption app (`npm run test:cloud`; not part of `npm test`).
 *
 * The local tests play the platform's reported behaviours (test/harness/fakes/kudu.ts); what only a
 * real app can confirm is the shape those tests assume: that a deployment stays readable by its id
 * after Kudu recycled (so polling the id, not `latest`, is sound), and that the host admin API
 * reports `state` and `processUptime` with the master key ARM lists. Role-propagation refusals and
 * vanishing failed deployments cannot be produced on demand; they stay covered by the fakes.
 * This test only reads: it deploys nothing.
 *
 * Needs:
 * - FLEX_APP_ID: the Function App's resource id (`/subscriptions/.../sites/<name>`), e.g. from
 *   `pulumi stack output` or the portal;
 * - optional FLEX_DEPLOYMENT_ID: the deployment id the stack's FlexDeployment recorded (its
 *   `deploymentId` output); without it only the host is checked;
 * - an identity DefaultAzureCredential finds with Website Contributor on the app.
 * Without FLEX_APP_ID every test is skipped.
 */
import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { DefaultAzureCredential } from "@azure/identity";
import { APP_SERVICE_TOKEN_AUDIENCE, AZURE_RESOURCE_MANAGER, scmUrlOf } from "../../components/flex-deployment";

const siteId = process.env.FLEX_APP_ID;
const deploymentId = process.env.FLEX_DEPLOYMENT_ID;
const skip = siteId ? false : "set FLEX_APP_ID to a deployed Flex Consumption app's resource id";
const API_VERSION = "2024-04-01";

describe("one deploy on a Flex Consumption app", { skip, timeout: 5 * 60_000 }, () => {
  const credential = new DefaultAzureCredential();
  const bearer = async (audience: string) => `Bearer ${(await credential.getToken(`${audience}/.default`)).token}`;
  let site: { properties: { defaultHostName: string; hostNameSslStates: { name?: string; hostType?: string }[] } };

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

  it("reports the host's state and process uptime to the admin API with the master key ARM lists", async () => {
    const keys = await fetch(`${AZURE_RESOURCE_MANAGER}${siteId}/host/default/listKeys?api-version=${API_VERSION}`, {
      method: "POST",
      headers: { Authorization: await bearer(AZURE_RESOURCE_MANAGER) },
    });
    assert.equal(keys.status, 200, await keys.clone().text());
    const { masterKey } = (await keys.json()) as { masterKey: string };
    const status = await fetch(`https://${site.properties.defaultHostName}/admin/host/status`, {
      headers: { "x-functions-key": masterKey },
    });
    assert.equal(status.status, 200, await status.clone().text());
    const host = (await status.json()) as { state: string; processUptime: number };
    assert.equal(host.state, "Running");
    assert.equal(typeof host.processUptime, "number");
  });
});
