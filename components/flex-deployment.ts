/**
 * Code deployment for Flex Consumption Function Apps. Flex runs only what arrives through "one deploy"
 * (`POST https://<scm host>/api/publish`); it ignores WEBSITE_RUN_FROM_PACKAGE and rejects
 * /api/zipdeploy, and azure-native has no resource for it. This dynamic resource posts the package
 * with an Entra token whenever the package hash (or the target app) changes, then waits for the
 * deployment to finish, as `az functionapp deployment source config-zip` does for Flex.
 */
import * as fs from "node:fs";
import * as authorization from "@pulumi/azure-native/authorization";
import * as pulumi from "@pulumi/pulumi";

/** The audience the App Service deployment endpoint accepts (ARM tokens are being retired there). */
export const APP_SERVICE_TOKEN_AUDIENCE = "https://appservice.azure.com";

/** Kudu deployment states, as /api/deployments reports them. */
const DEPLOYMENT_STATUS = { cancelled: -1, failed: 3, success: 4, conflict: 5, partialSuccess: 6 } as const;

export interface PublishInputs {
  /** `https://<scm host>` of the app (Flex apps have hashed host names: read it from the site). */
  scmUrl: string;
  /** The zip to deploy. */
  packagePath: string;
  /** SHA-256 of the zip; a new value triggers a redeploy. */
  packageSha256: string;
  /** Entra bearer token for the App Service audience. */
  token: string;
  /** How long to wait for the deployment to finish. */
  timeoutSeconds: number;
}

export interface PublishResult {
  /** The deployment id Kudu returned, if any. */
  deploymentId: string;
  /** The final status text Kudu reported. */
  statusText: string;
}

/** The network and clock the publisher uses; tests substitute a loopback server and a fast clock. */
export interface PublishEnvironment {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  pollIntervalMs: number;
}

const defaultEnvironment: PublishEnvironment = {
  fetch: (...args) => fetch(...args),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  pollIntervalMs: 2000,
};

/** Tries of the POST while another deployment holds the site (409). */
const CONFLICT_RETRIES = 5;

/** Posts the package to one deploy and waits until Kudu reports success; throws with Kudu's reason otherwise. */
export async function publishPackage(
  inputs: PublishInputs,
  environment: PublishEnvironment = defaultEnvironment,
): Promise<PublishResult> {
  const body = fs.readFileSync(inputs.packagePath);
  const headers = { Authorization: `Bearer ${inputs.token}`, "Cache-Control": "no-cache" };
  const publishUrl = `${inputs.scmUrl}/api/publish?RemoteBuild=false&Deployer=queue-patterns`;
  let response: Response | undefined;
  for (let attempt = 1; attempt <= CONFLICT_RETRIES; attempt++) {
    response = await environment.fetch(publishUrl, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/zip" },
      body,
    });
    if (response.status !== 409) break;
    await environment.sleep(environment.pollIntervalMs * 2 ** attempt);
  }
  if (!response?.ok) {
    const text = response ? await response.text() : "";
    throw new Error(
      `one deploy to ${inputs.scmUrl} failed: HTTP ${response?.status} ${text.slice(0, 500)}` +
        (response?.status === 409 ? " (another deployment kept the site busy)" : ""),
    );
  }
  const deploymentId = (await response.text()).replace(/"/g, "").trim();
  return waitForDeployment(inputs, headers, deploymentId, environment);
}

async function waitForDeployment(
  inputs: PublishInputs,
  headers: Record<string, string>,
  deploymentId: string,
  environment: PublishEnvironment,
): Promise<PublishResult> {
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  let seenInProgress = false;
  while (Date.now() < deadline) {
    const response = await environment.fetch(`${inputs.scmUrl}/api/deployments/latest`, { headers });
    // Kudu on Flex recycles after a deployment, so the status endpoint can vanish once it has shown
    // this deployment in progress (az CLI treats that as done); a 404 before then means "not yet".
    if (response.status === 404 && seenInProgress) {
      return { deploymentId, statusText: "finished (deployment host recycled)" };
    }
    if (response.ok) {
      const deployment = (await response.json()) as { status: number; status_text?: string; log_url?: string };
      if (deployment.status === DEPLOYMENT_STATUS.success || deployment.status === DEPLOYMENT_STATUS.partialSuccess) {
        return { deploymentId, statusText: deployment.status_text ?? "success" };
      }
      if (
        deployment.status === DEPLOYMENT_STATUS.failed ||
        deployment.status === DEPLOYMENT_STATUS.cancelled ||
        deployment.status === DEPLOYMENT_STATUS.conflict
      ) {
        throw new Error(
          `one deploy to ${inputs.scmUrl} ended with status ${deployment.status}: ${deployment.status_text ?? ""}` +
            (deployment.log_url ? ` (log: ${deployment.log_url})` : ""),
        );
      }
      seenInProgress = true;
    }
    await environment.sleep(environment.pollIntervalMs);
  }
  throw new Error(`one deploy to ${inputs.scmUrl} did not finish within ${inputs.timeoutSeconds} s`);
}

/** Only a new package or a new target redeploys; a fresh token or a new local path does not. */
export function deploymentDiff(olds: PublishInputs, news: PublishInputs): pulumi.dynamic.DiffResult {
  const changed = (["packageSha256", "scmUrl"] as const).filter((key) => olds[key] !== news[key]);
  return { changes: changed.length > 0, replaces: [], stables: [], deleteBeforeReplace: false };
}

const provider: pulumi.dynamic.ResourceProvider<PublishInputs> = {
  async create(inputs) {
    const result = await publishPackage(inputs);
    return { id: `${inputs.scmUrl}#${inputs.packageSha256}`, outs: outputsOf(inputs, result) };
  },
  async diff(_id, olds, news) {
    return deploymentDiff(olds, news);
  },
  async update(_id, _olds, news) {
    return { outs: outputsOf(news, await publishPackage(news)) };
  },
};

/** What the resource keeps in state: never the token. */
function outputsOf(inputs: PublishInputs, result: PublishResult) {
  return { scmUrl: inputs.scmUrl, packageSha256: inputs.packageSha256, ...result };
}

export interface FlexDeploymentArgs {
  scmUrl: pulumi.Input<string>;
  packagePath: pulumi.Input<string>;
  packageSha256: pulumi.Input<string>;
  /** @default 600 */
  timeoutSeconds?: number;
}

/** Deploys a package to a Flex Consumption app through one deploy; redeploys when the hash changes. */
export class FlexDeployment extends pulumi.dynamic.Resource {
  declare readonly packageSha256: pulumi.Output<string>;
  declare readonly deploymentId: pulumi.Output<string>;

  constructor(name: string, args: FlexDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    const token = authorization
      .getClientTokenOutput({ endpoint: APP_SERVICE_TOKEN_AUDIENCE }, { parent: opts?.parent })
      .apply((result) => pulumi.secret(result.token));
    super(
      provider,
      name,
      { ...args, token, timeoutSeconds: args.timeoutSeconds ?? 600, deploymentId: undefined, statusText: undefined },
      opts,
      "queue-patterns",
      "FlexDeployment",
    );
  }
}

/** The SCM (deployment) URL of a site, from its host name states (Flex host names are hashed). */
export function scmUrlOf(hostNameSslStates: { name?: string; hostType?: string }[] | undefined): string {
  const repository = hostNameSslStates?.find((state) => state.hostType === "Repository" && state.name);
  if (!repository?.name) throw new Error("the site reports no Repository (SCM) host name; one deploy needs it");
  return `https://${repository.name}`;
}
