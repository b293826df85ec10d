/**
 * Code deployment for Flex Consumption Function Apps. Flex runs only what arrives through "one deploy"
 * (`POST https://<scm host>/api/publish`); it ignores WEBSITE_RUN_FROM_PACKAGE and rejects
 * /api/zipdeploy, and azure-native has no resource for it. This dynamic resource posts the package
 * with an Entra token whenever the package hash (or the target app) changes, follows that one
 * deployment by its id until Kudu reports its end, and then waits until the Functions host runs the
 * new package, the way `az functionapp deployment source config-zip` does for Flex.
 *
 * What the platform does, and what this code does about it:
 * - `/api/deployments/latest` can still show the previous deployment (azure-cli PR #20261), so the
 *   deployment is polled at `/api/deployments/<id>`, the id the POST answered with (azd #3658).
 * - Right after a role assignment (the app's identity on its deployment container, the deployer's
 *   on the site) the POST can answer 403, or 400 `BlobUploadFailedException` wrapping a storage 403,
 *   until the assignment propagates, which can take many minutes (azd #4439, endjin ZeroFailed
 *   `Publish-FlexConsumptionFunctionApp`). Those answers, 409 (another deployment holds the site),
 *   429 and 5xx are retried with bounded exponential backoff until the deadline.
 * - A failed Flex deployment can show up as 404 "Deployment not found" (azd #4439), so a 404 is never
 *   taken as success: it means "not there yet" until the deadline.
 * - Kudu's success says the package was stored, not that the app runs it. The host admin API
 *   (`GET https://<app host>/admin/host/status` with the master key, which az CLI's
 *   `check_flex_app_after_deployment` also calls;
 *   https://github.com/Azure/azure-functions-host/wiki/Admin-API) reports the host state and its
 *   process uptime; Flex restarts the app after a deployment, so a `Running` host whose process
 *   started after the package was posted runs the new package.
 */
import * as fs from "node:fs";
import * as authorization from "@pulumi/azure-native/authorization";
import * as pulumi from "@pulumi/pulumi";

/** The audience the App Service deployment endpoint accepts (ARM tokens are being retired there). */
export const APP_SERVICE_TOKEN_AUDIENCE = "https://appservice.azure.com";
/** Azure Resource Manager in the public cloud, where the host keys are listed. */
export const AZURE_RESOURCE_MANAGER = "https://management.azure.com";
/** The Microsoft.Web API version used to list host keys (`POST <site>/host/default/listKeys`). */
const WEB_API_VERSION = "2024-04-01";

/** Kudu deployment states, as /api/deployments reports them. */
const DEPLOYMENT_STATUS = { cancelled: -1, failed: 3, success: 4, conflict: 5, partialSuccess: 6 } as const;
const FAILED_STATES: number[] = [DEPLOYMENT_STATUS.failed, DEPLOYMENT_STATUS.cancelled, DEPLOYMENT_STATUS.conflict];
/** PartialSuccess: the package deployed but Kudu restarted on the way (azure-cli #33184); the host check decides. */
const SUCCEEDED_STATES: number[] = [DEPLOYMENT_STATUS.success, DEPLOYMENT_STATUS.partialSuccess];

export interface PublishInputs {
  /** `https://<scm host>` of the app (Flex apps have hashed host names: read it from the site). */
  scmUrl: string;
  /** `https://<default host name>` of the app, where the host admin API answers. */
  hostUrl: string;
  /** The site's ARM resource id, to list its host keys. */
  siteId: string;
  /** The zip to deploy. */
  packagePath: string;
  /** SHA-256 of the zip; a new value triggers a redeploy. */
  packageSha256: string;
  /** Entra bearer token for the App Service audience (one deploy). */
  token: string;
  /** Entra bearer token for Azure Resource Manager (host keys). */
  armToken: string;
  /** @default AZURE_RESOURCE_MANAGER */
  armUrl?: string;
  /** How long the whole deployment may take: role propagation, the deployment itself and the host restart. */
  timeoutSeconds: number;
}

export interface PublishResult {
  /** The deployment id Kudu returned. */
  deploymentId: string;
  /** The final status text Kudu reported. */
  statusText: string;
  /** The host state once it ran the new package (`Running`). */
  hostState: string;
}

/** The network and clock the publisher uses; tests substitute a loopback server and a fake clock. */
export interface PublishEnvironment {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** Milliseconds on the clock deadlines and host uptimes are measured with. */
  now: () => number;
  pollIntervalMs: number;
}

const defaultEnvironment: PublishEnvironment = {
  fetch: (...args) => fetch(...args),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  pollIntervalMs: 2000,
};

/** Role propagation alone can take 20 minutes (endjin ZeroFailed waits 1200 s). */
export const DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS = 1200;
/** The longest wait between two retries of the POST. */
const MAX_BACKOFF_MS = 60_000;

/** An HTTP answer, or the network error in its place. */
type Answer = { status: number; text: string; headers: Headers } | { networkError: string };

/** Posts the package to one deploy and waits until the host runs it; throws with the platform's reason otherwise. */
export async function publishPackage(
  inputs: PublishInputs,
  environment: PublishEnvironment = defaultEnvironment,
): Promise<PublishResult> {
  const deadline = environment.now() + inputs.timeoutSeconds * 1000;
  const { deploymentId, postedAt } = await postPackage(inputs, environment, deadline);
  const statusText = await waitForDeployment(inputs, deploymentId, environment, deadline);
  const hostState = await waitForHost(inputs, postedAt, environment, deadline);
  return { deploymentId, statusText, hostState };
}

async function request(environment: PublishEnvironment, url: string, init: RequestInit): Promise<Answer> {
  try {
    const response = await environment.fetch(url, init);
    return { status: response.status, text: await response.text(), headers: response.headers };
  } catch (error) {
    return { networkError: error instanceof Error ? error.message : String(error) };
  }
}

/** The JSON of a body, or undefined when it is not JSON (an HTML error page of a warming front end). */
function jsonOf<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** The HTTP status of an answer; undefined for a network error. */
function statusOf(answer: Answer): number | undefined {
  return "networkError" in answer ? undefined : answer.status;
}

function describe(answer: Answer): string {
  return "networkError" in answer
    ? `network error ${answer.networkError}`
    : `HTTP ${answer.status} ${answer.text.slice(0, 500)}`.trim();
}

/** Answers that say "not yet": the site is busy, warming up or overloaded. */
function isBusy(answer: Answer): boolean {
  const status = statusOf(answer);
  return status === undefined || status === 409 || status === 429 || status >= 500;
}

/**
 * Answers of a POST while a fresh role assignment propagates: 403 (the deployer's role on the site),
 * or 400 BlobUploadFailedException around a storage 403 (the app identity's role on its container).
 */
export function isRolePropagationAnswer(status: number, text: string): boolean {
  if (status === 403) return true;
  return status === 400 && /BlobUploadFailedException/i.test(text) && /\b403\b|not authorized/i.test(text);
}

async function postPackage(
  inputs: PublishInputs,
  environment: PublishEnvironment,
  deadline: number,
): Promise<{ deploymentId: string; postedAt: number }> {
  const body = fs.readFileSync(inputs.packagePath);
  const publishUrl = `${inputs.scmUrl}/api/publish?RemoteBuild=false&Deployer=queue-patterns`;
  for (let attempt = 0; ; attempt++) {
    const postedAt = environment.now();
    const answer = await request(environment, publishUrl, {
      method: "POST",
      headers: { ...scmHeaders(inputs), "Content-Type": "application/zip" },
      body,
    });
    const status = statusOf(answer);
    if (!("networkError" in answer) && answer.status >= 200 && answer.status < 300) {
      return { deploymentId: deploymentIdOf(inputs, answer), postedAt };
    }
    const transient =
      isBusy(answer) || (status !== undefined && "text" in answer && isRolePropagationAnswer(status, answer.text));
    const wait = Math.min(environment.pollIntervalMs * 2 ** attempt, MAX_BACKOFF_MS);
    if (!transient || environment.now() + wait > deadline) {
      throw new Error(
        `one deploy to ${inputs.scmUrl} failed: ${describe(answer)}` +
          (transient ? ` (still refused after ${attempt + 1} attempts within ${inputs.timeoutSeconds} s)` : "") +
          postHint(answer),
      );
    }
    await environment.sleep(wait);
  }
}

function postHint(answer: Answer): string {
  if ("networkError" in answer) return "; the deployer needs network access to the app's SCM host.";
  if (answer.status === 401) return "; the token was refused: sign in to the tenant of the app.";
  if (answer.status === 403) {
    return "; the deployer needs Microsoft.Web/sites/publish/Action on the app (Website Contributor), and role assignments can take minutes to apply.";
  }
  if (answer.status === 409) return "; another deployment kept the site busy.";
  return "";
}

/** The deployment id: one deploy answers with it as the body (a quoted GUID), or names it in Location. */
function deploymentIdOf(inputs: PublishInputs, answer: { text: string; headers: Headers }): string {
  const fromBody = answer.text.replace(/"/g, "").trim();
  if (/^[\w-]+$/.test(fromBody)) return fromBody;
  const fromLocation = answer.headers.get("location")?.split("?")[0].split("/").filter(Boolean).at(-1);
  if (fromLocation && fromLocation !== "latest") return fromLocation;
  throw new Error(
    `one deploy to ${inputs.scmUrl} accepted the package but named no deployment id (body ${JSON.stringify(answer.text.slice(0, 200))}); ` +
      "without it the deployment cannot be told apart from an earlier one.",
  );
}

function scmHeaders(inputs: PublishInputs): Record<string, string> {
  return { Authorization: `Bearer ${inputs.token}`, "Cache-Control": "no-cache" };
}

async function waitForDeployment(
  inputs: PublishInputs,
  deploymentId: string,
  environment: PublishEnvironment,
  deadline: number,
): Promise<string> {
  const statusUrl = `${inputs.scmUrl}/api/deployments/${encodeURIComponent(deploymentId)}`;
  let last: Answer | undefined;
  while (environment.now() < deadline) {
    last = await request(environment, statusUrl, { headers: scmHeaders(inputs) });
    const status = statusOf(last);
    if (status === 200 && "text" in last) {
      const deployment = jsonOf<{ id?: string; status?: number; status_text?: string; log_url?: string }>(last.text);
      if (deployment?.status !== undefined && (deployment.id === undefined || deployment.id === deploymentId)) {
        if (SUCCEEDED_STATES.includes(deployment.status)) return deployment.status_text || "success";
        if (FAILED_STATES.includes(deployment.status)) {
          throw new Error(
            `one deploy ${deploymentId} to ${inputs.scmUrl} ended with status ${deployment.status}: ${deployment.status_text ?? ""}` +
              (deployment.log_url ? ` (log: ${deployment.log_url})` : ""),
          );
        }
      }
    } else if (status !== undefined && status !== 404 && !isBusy(last)) {
      throw new Error(`reading one deploy ${deploymentId} at ${statusUrl} failed: ${describe(last)}`);
    }
    await environment.sleep(environment.pollIntervalMs);
  }
  const notFound = last !== undefined && statusOf(last) === 404;
  throw new Error(
    notFound
      ? `one deploy ${deploymentId} to ${inputs.scmUrl} was still not found (404) after ${inputs.timeoutSeconds} s; ` +
          "Flex reports some failed deployments this way: see Deployment Center (or Diagnose and solve problems > Flex Consumption Deployment) in the portal."
      : `one deploy ${deploymentId} to ${inputs.scmUrl} did not finish within ${inputs.timeoutSeconds} s (last answer: ${last ? describe(last) : "none"})`,
  );
}

/** Host status as the Functions admin API reports it (HostStatus in azure-functions-host). */
interface HostStatus {
  state?: string;
  /** Milliseconds since the host process started. */
  processUptime?: number;
  errors?: string[];
}

async function waitForHost(
  inputs: PublishInputs,
  postedAt: number,
  environment: PublishEnvironment,
  deadline: number,
): Promise<string> {
  const statusUrl = `${inputs.hostUrl}/admin/host/status`;
  let masterKey: string | undefined;
  let lastSeen = "no answer";
  while (environment.now() < deadline) {
    if (masterKey === undefined) {
      const listed = await listMasterKey(inputs, environment);
      if ("masterKey" in listed) masterKey = listed.masterKey;
      else lastSeen = listed.notYet;
    }
    if (masterKey !== undefined) {
      const sentAt = environment.now();
      const answer = await request(environment, statusUrl, { headers: { "x-functions-key": masterKey } });
      if (statusOf(answer) === 200 && "text" in answer) {
        const status = jsonOf<HostStatus>(answer.text) ?? {};
        // The host process is at least as old as `processUptime` when the request was sent.
        const startedAfterPost = typeof status.processUptime === "number" && sentAt - status.processUptime >= postedAt;
        if (status.state === "Running" && startedAfterPost) return status.state;
        lastSeen =
          status.state === "Running"
            ? `Running, but its process is ${Math.round((status.processUptime ?? 0) / 1000)} s old: it started before the package was posted`
            : `state ${status.state}${status.errors?.length ? `, errors: ${status.errors.join("; ")}` : ""}`;
      } else {
        // A key rotated by a restarting host is refused; list it again.
        if (statusOf(answer) === 401 || statusOf(answer) === 403) masterKey = undefined;
        lastSeen = describe(answer);
      }
    }
    await environment.sleep(environment.pollIntervalMs);
  }
  throw new Error(
    `one deploy to ${inputs.scmUrl} succeeded, but the Functions host at ${inputs.hostUrl} did not run the new package within ` +
      `${inputs.timeoutSeconds} s (last: ${lastSeen}); see the app's logs in Application Insights.`,
  );
}

/**
 * The host's master key from ARM, or why there is none yet: a fresh app's host has not created its
 * keys, or the deployer's role assignment is still propagating (403). A refused token (401) throws.
 */
async function listMasterKey(
  inputs: PublishInputs,
  environment: PublishEnvironment,
): Promise<{ masterKey: string } | { notYet: string }> {
  const url = `${inputs.armUrl ?? AZURE_RESOURCE_MANAGER}${inputs.siteId}/host/default/listKeys?api-version=${WEB_API_VERSION}`;
  const answer = await request(environment, url, {
    method: "POST",
    headers: { Authorization: `Bearer ${inputs.armToken}` },
  });
  const status = statusOf(answer);
  if (status === 200 && "text" in answer) {
    const masterKey = jsonOf<{ masterKey?: string }>(answer.text)?.masterKey;
    return masterKey ? { masterKey } : { notYet: "ARM listed no master key yet (the host has not started)" };
  }
  if (status === 401) {
    throw new Error(
      `listing the host keys of ${inputs.siteId} failed: ${describe(answer)}; the ARM token was refused.`,
    );
  }
  const permission =
    status === 403
      ? " (the deployer needs Microsoft.Web/sites/host/listkeys/action on the app, e.g. Website Contributor)"
      : "";
  return { notYet: `listing the host keys answered ${describe(answer)}${permission}` };
}

/** Only a new package or a new target redeploys; fresh tokens or a new local path do not. */
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

/** What the resource keeps in state: never a token or key. */
function outputsOf(inputs: PublishInputs, result: PublishResult) {
  return { scmUrl: inputs.scmUrl, packageSha256: inputs.packageSha256, ...result };
}

export interface FlexDeploymentArgs {
  scmUrl: pulumi.Input<string>;
  hostUrl: pulumi.Input<string>;
  siteId: pulumi.Input<string>;
  packagePath: pulumi.Input<string>;
  packageSha256: pulumi.Input<string>;
  /** @default 1200 (a fresh role assignment can take 20 minutes to apply) */
  timeoutSeconds?: number;
}

/** Deploys a package to a Flex Consumption app through one deploy; redeploys when the hash changes. */
export class FlexDeployment extends pulumi.dynamic.Resource {
  declare readonly packageSha256: pulumi.Output<string>;
  declare readonly deploymentId: pulumi.Output<string>;
  declare readonly hostState: pulumi.Output<string>;

  constructor(name: string, args: FlexDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    const tokenFor = (endpoint?: string) =>
      authorization
        .getClientTokenOutput(endpoint ? { endpoint } : {}, { parent: opts?.parent })
        .apply((result) => pulumi.secret(result.token));
    super(
      provider,
      name,
      {
        ...args,
        token: tokenFor(APP_SERVICE_TOKEN_AUDIENCE),
        armToken: tokenFor(),
        timeoutSeconds: args.timeoutSeconds ?? DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS,
        deploymentId: undefined,
        statusText: undefined,
        hostState: undefined,
      },
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
