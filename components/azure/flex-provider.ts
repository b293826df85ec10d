/**
 * The dynamic provider of FlexDeployment (flex-deployment.ts): it posts the package through one
 * deploy, follows the deployment, syncs the triggers and waits for the function list. The engine's
 * dynamic-provider host runs it from its serialized form, which requires this module by its package
 * export, `queue-patterns/flex-deployment`: the name stays, whatever file holds it, so the provider
 * of a deployed stack keeps loading after an upgrade. What it captures from other modules must be
 * exported too, so it keeps its code in this one file.
 */
import * as fs from "node:fs";
import type { TokenCredential } from "@azure/identity";
import * as pulumi from "@pulumi/pulumi";

/** The audience the App Service deployment endpoint accepts (ARM tokens are being retired there). */
export const APP_SERVICE_TOKEN_AUDIENCE = "https://appservice.azure.com";
/** Azure Resource Manager in the public cloud, where triggers are synced and functions listed. */
export const AZURE_RESOURCE_MANAGER = "https://management.azure.com";
/** The Microsoft.Web API version of the sync and function-list calls. */
const WEB_API_VERSION = "2024-04-01";

/** Kudu deployment states, as /api/deployments reports them. */
const DEPLOYMENT_STATUS = { cancelled: -1, failed: 3, success: 4, conflict: 5, partialSuccess: 6 } as const;
const FAILED_STATES: number[] = [DEPLOYMENT_STATUS.failed, DEPLOYMENT_STATUS.cancelled, DEPLOYMENT_STATUS.conflict];
/** PartialSuccess: the package deployed but Kudu restarted on the way (azure-cli #33184); the function list decides. */
const SUCCEEDED_STATES: number[] = [DEPLOYMENT_STATUS.success, DEPLOYMENT_STATUS.partialSuccess];

export interface PublishInputs {
  /** `https://<scm host>` of the app (Flex apps have hashed host names: read it from the site). */
  scmUrl: string;
  /** The site's ARM resource id, to sync its triggers and list its functions. */
  siteId: string;
  /**
   * The blob container the app deploys from (`functionAppConfig.deployment.storage.value`). A new
   * container (a replaced host account) is empty, so it takes a redeploy.
   */
  deploymentStorageUrl: string;
  /** The functions the package registers; the deployment waits until ARM lists every one. */
  functionNames: string[];
  /** The zip to deploy. */
  packagePath: string;
  /** SHA-256 of the zip; a new value triggers a redeploy. */
  packageSha256: string;
  /** @default AZURE_RESOURCE_MANAGER */
  armUrl?: string;
  /** How long the deployment may take: role propagation and the deployment itself. */
  timeoutSeconds: number;
}

export interface PublishResult {
  /** The deployment id Kudu returned. */
  deploymentId: string;
  /** The final status text Kudu reported. */
  statusText: string;
  /** The functions ARM listed once the triggers were synced. */
  functions: string[];
}

/** The network, clock and credential the publisher uses; tests substitute a loopback server, a fake clock and fake tokens. */
export interface PublishEnvironment {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** Milliseconds on the clock deadlines are measured with. */
  now: () => number;
  pollIntervalMs: number;
  /** A bearer token for `audience`; `fresh` asks for one not taken from a cache (after a 401). */
  token: (audience: string, fresh: boolean) => Promise<string>;
}

/** The azure-native settings (ARM_* variables) and Azure SDK settings (AZURE_*) the deployer signs in with. */
type CredentialEnvironment = Record<string, string | undefined>;

/**
 * The deployer's Azure credential, from the environment `pulumi up` runs in: the azure-native
 * provider's service principal variables (ARM_CLIENT_ID with ARM_CLIENT_SECRET, or with an OIDC
 * token in ARM_OIDC_TOKEN, and ARM_TENANT_ID), else DefaultAzureCredential, which reads the Azure
 * SDK's AZURE_* service principal and workload identity variables, a managed identity, and the
 * Azure CLI, Azure Developer CLI or Azure PowerShell login.
 */
export function deployerCredential(env: CredentialEnvironment): TokenCredential {
  // Loaded here, where a token is needed: a program that only declares resources never loads it.
  const { ClientAssertionCredential, ClientSecretCredential, DefaultAzureCredential } =
    require("@azure/identity") as typeof import("@azure/identity");
  const tenantId = env.ARM_TENANT_ID || env.AZURE_TENANT_ID;
  const clientId = env.ARM_CLIENT_ID;
  if (tenantId && clientId && env.ARM_CLIENT_SECRET) {
    return new ClientSecretCredential(tenantId, clientId, env.ARM_CLIENT_SECRET);
  }
  const oidcToken = env.ARM_OIDC_TOKEN;
  if (tenantId && clientId && oidcToken) {
    return new ClientAssertionCredential(tenantId, clientId, async () => oidcToken);
  }
  return new DefaultAzureCredential(tenantId ? { tenantId } : {});
}

/** The publisher as the provider runs it, in the engine's dynamic-provider host: real network and clock, the deployer's credential. */
function providerEnvironment(): PublishEnvironment {
  let credential = deployerCredential(process.env);
  return {
    fetch: (...args) => fetch(...args),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
    pollIntervalMs: 2000,
    async token(audience, fresh) {
      // A new credential keeps no token from before the refusal.
      if (fresh) credential = deployerCredential(process.env);
      const token = await credential.getToken(`${audience}/.default`);
      if (!token) throw new Error("the credential returned no token");
      return token.token;
    },
  };
}

/** Role propagation alone can take 20 minutes (endjin ZeroFailed waits 1200 s). */
export const DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS = 1200;
/**
 * How long, after Kudu reported success, ARM may take to list the package's functions. az CLI
 * waits 60 s for the sync before it checks the app (`check_flex_app_after_deployment`); a cold
 * Flex instance indexes a package within a few minutes.
 */
export const FUNCTION_LISTING_TIMEOUT_SECONDS = 600;
/** The longest wait between two retries of the POST. */
const MAX_BACKOFF_MS = 60_000;
/** The function list is read every this many poll intervals (ARM, not the app). */
const LISTING_POLL_FACTOR = 5;
/** While functions are missing, the triggers are synced again every this many readings of the list. */
const READINGS_PER_SYNC = 6;

/** An HTTP answer, or the network error in its place. */
type Answer = { status: number; text: string; headers: Headers } | { networkError: string };

/** Posts the package to one deploy and waits until ARM lists its functions; throws with the platform's reason otherwise. */
export async function publishPackage(inputs: PublishInputs, environment: PublishEnvironment): Promise<PublishResult> {
  const deadline = environment.now() + inputs.timeoutSeconds * 1000;
  const deploymentId = await postPackage(inputs, environment, deadline);
  const statusText = await waitForDeployment(inputs, deploymentId, environment, deadline);
  const functions = await waitForFunctions(inputs, deploymentId, environment);
  return { deploymentId, statusText, functions };
}

async function request(environment: PublishEnvironment, url: string, init: RequestInit): Promise<Answer> {
  try {
    const response = await environment.fetch(url, init);
    return { status: response.status, text: await response.text(), headers: response.headers };
  } catch (error) {
    return { networkError: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * A request with a bearer token for `audience`, fetched for this request; a 401 is retried once
 * with a freshly fetched token. Fails when no credential gives a token.
 */
async function authorizedRequest(
  environment: PublishEnvironment,
  audience: string,
  url: string,
  init: RequestInit,
): Promise<Answer> {
  let answer: Answer | undefined;
  for (const fresh of [false, true]) {
    let token: string;
    try {
      token = await environment.token(audience, fresh);
    } catch (error) {
      throw new Error(
        `no Azure token for ${audience}: ${error instanceof Error ? error.message : String(error)}. ` +
          "The deployment signs in where `pulumi up` runs: ARM_CLIENT_ID with ARM_CLIENT_SECRET or ARM_OIDC_TOKEN and ARM_TENANT_ID, " +
          "the AZURE_* variables, a managed identity, or `az login`.",
      );
    }
    answer = await request(environment, url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${token}` },
    });
    if (statusOf(answer) !== 401) return answer;
  }
  return answer as Answer;
}

/** Why a request refused twice (401) fails: the credential is not one the app's tenant accepts. */
function refusedTwice(what: string, audience: string, answer: Answer): Error {
  return new Error(
    `${what} failed: ${describe(answer)}; a token for ${audience} was refused twice, the second one freshly fetched. ` +
      "Sign in to the tenant of the app (az login --tenant, or ARM_TENANT_ID with the service principal's variables).",
  );
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

async function postPackage(inputs: PublishInputs, environment: PublishEnvironment, deadline: number): Promise<string> {
  const body = fs.readFileSync(inputs.packagePath);
  const publishUrl = `${inputs.scmUrl}/api/publish?RemoteBuild=false&Deployer=queue-patterns`;
  for (let attempt = 0; ; attempt++) {
    const answer = await authorizedRequest(environment, APP_SERVICE_TOKEN_AUDIENCE, publishUrl, {
      method: "POST",
      headers: { ...SCM_HEADERS, "Content-Type": "application/zip" },
      body,
    });
    const status = statusOf(answer);
    if (!("networkError" in answer) && answer.status >= 200 && answer.status < 300) {
      return deploymentIdOf(inputs, answer);
    }
    if (status === 401) throw refusedTwice(`one deploy to ${inputs.scmUrl}`, APP_SERVICE_TOKEN_AUDIENCE, answer);
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

const SCM_HEADERS = { "Cache-Control": "no-cache" };

async function waitForDeployment(
  inputs: PublishInputs,
  deploymentId: string,
  environment: PublishEnvironment,
  deadline: number,
): Promise<string> {
  const statusUrl = `${inputs.scmUrl}/api/deployments/${encodeURIComponent(deploymentId)}`;
  let last: Answer | undefined;
  while (environment.now() < deadline) {
    last = await authorizedRequest(environment, APP_SERVICE_TOKEN_AUDIENCE, statusUrl, { headers: SCM_HEADERS });
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
    } else if (status === 401) {
      throw refusedTwice(`reading one deploy ${deploymentId} at ${statusUrl}`, APP_SERVICE_TOKEN_AUDIENCE, last);
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

/**
 * A function as ARM lists it (FunctionEnvelope, https://learn.microsoft.com/rest/api/appservice/web-apps/list-functions):
 * `name` is `<site>/<function>`.
 */
interface ListedFunction {
  name?: string;
}

/** The function's own name from ARM's `<site>/<function>`. */
function functionNameOf(listed: ListedFunction): string | undefined {
  return listed.name?.split("/").at(-1);
}

/** An ARM refusal that waiting does not cure: the deployer lacks the action (403) or the site is gone (404). */
function armHint(answer: Answer, action: string): string {
  if (statusOf(answer) === 403) return `; the deployer needs ${action} on the app (Website Contributor).`;
  return "";
}

/**
 * Syncs the app's triggers through ARM, then reads ARM's function list until every function the
 * package registers is there, syncing again while some are missing; bounded by
 * FUNCTION_LISTING_TIMEOUT_SECONDS from Kudu's success.
 */
async function waitForFunctions(
  inputs: PublishInputs,
  deploymentId: string,
  environment: PublishEnvironment,
): Promise<string[]> {
  const arm = inputs.armUrl ?? AZURE_RESOURCE_MANAGER;
  const syncUrl = `${arm}${inputs.siteId}/host/default/sync?api-version=${WEB_API_VERSION}`;
  const listUrl = `${arm}${inputs.siteId}/functions?api-version=${WEB_API_VERSION}`;
  const deadline = environment.now() + FUNCTION_LISTING_TIMEOUT_SECONDS * 1000;
  let lastSync = "not sent";
  let lastListing = "not read";
  for (let reading = 0; environment.now() < deadline; reading++) {
    if (reading % READINGS_PER_SYNC === 0) {
      const sync = await authorizedRequest(environment, AZURE_RESOURCE_MANAGER, syncUrl, { method: "POST" });
      const status = statusOf(sync);
      if (status === 401) throw refusedTwice(`syncing the triggers of ${inputs.siteId}`, AZURE_RESOURCE_MANAGER, sync);
      if (status === 403 || status === 404) {
        throw new Error(
          `syncing the triggers of ${inputs.siteId} failed: ${describe(sync)}` +
            armHint(sync, "Microsoft.Web/sites/host/sync/action"),
        );
      }
      // A host that is still starting refuses the sync (400 or 5xx from the host runtime); it is sent again.
      lastSync = status !== undefined && status < 300 ? "accepted" : describe(sync);
    }
    const listed = await listFunctions(environment, listUrl);
    if ("functions" in listed) {
      const missing = inputs.functionNames.filter((name) => !listed.functions.includes(name));
      if (missing.length === 0) return listed.functions;
      lastListing =
        listed.functions.length === 0
          ? "no function listed"
          : `only ${listed.functions.join(", ")} listed, not ${missing.join(", ")}`;
    } else {
      if (statusOf(listed.answer) === 401) {
        throw refusedTwice(`listing the functions of ${inputs.siteId}`, AZURE_RESOURCE_MANAGER, listed.answer);
      }
      if (statusOf(listed.answer) === 403) {
        throw new Error(
          `listing the functions of ${inputs.siteId} failed: ${describe(listed.answer)}` +
            armHint(listed.answer, "Microsoft.Web/sites/functions/read"),
        );
      }
      lastListing = `listing answered ${describe(listed.answer)}`;
    }
    await environment.sleep(environment.pollIntervalMs * LISTING_POLL_FACTOR);
  }
  throw new Error(
    `one deploy ${deploymentId} to ${inputs.scmUrl} succeeded, but after syncing its triggers Azure lists ` +
      `${lastListing} within ${FUNCTION_LISTING_TIMEOUT_SECONDS} s (expected ${inputs.functionNames.join(", ")}; last sync: ${lastSync}). ` +
      "Until they are listed their queue and Service Bus triggers do not scale out. Look at the app's Functions list in the portal " +
      "(or `az functionapp function list`), its Deployment Center, and the host's startup logs in Application Insights " +
      "(traces of category Host.Startup, e.g. 'Worker failed to index functions'); the portal's Overview > Refresh syncs the triggers again.",
  );
}

/** ARM's function list of the site, following `nextLink`, or the answer that was not a list. */
async function listFunctions(
  environment: PublishEnvironment,
  url: string,
): Promise<{ functions: string[] } | { answer: Answer }> {
  const functions: string[] = [];
  for (let next: string | undefined = url; next;) {
    const answer = await authorizedRequest(environment, AZURE_RESOURCE_MANAGER, next, {});
    const page =
      statusOf(answer) === 200 && "text" in answer
        ? jsonOf<{ value?: ListedFunction[]; nextLink?: string }>(answer.text)
        : undefined;
    if (!page) return { answer };
    functions.push(...(page.value ?? []).map(functionNameOf).filter((name): name is string => !!name));
    next = page.nextLink || undefined;
  }
  return { functions };
}

/** The inputs whose change redeploys: the package, the app, and the container it deploys from. */
const REDEPLOYING_INPUTS = ["packageSha256", "scmUrl", "siteId", "deploymentStorageUrl"] as const;

/**
 * A new package, a new app, or a new deployment container (a replaced host account starts empty)
 * redeploys; a new local path does not.
 */
export function deploymentDiff(olds: PublishInputs, news: PublishInputs): pulumi.dynamic.DiffResult {
  const changed = REDEPLOYING_INPUTS.filter((key) => olds[key] !== news[key]);
  return { changes: changed.length > 0, replaces: [], stables: [], deleteBeforeReplace: false };
}

/** The provider the engine's dynamic-provider host runs (serialized with its captured modules). */
export const flexDeploymentProvider: pulumi.dynamic.ResourceProvider<PublishInputs> = {
  async create(inputs) {
    const result = await publishPackage(inputs, providerEnvironment());
    return { id: `${inputs.scmUrl}#${inputs.packageSha256}`, outs: outputsOf(inputs, result) };
  },
  async diff(_id, olds, news) {
    return deploymentDiff(olds, news);
  },
  async update(_id, _olds, news) {
    return { outs: outputsOf(news, await publishPackage(news, providerEnvironment())) };
  },
};

/** What the resource keeps in state: its inputs and the result; no token or key is ever either. */
function outputsOf(inputs: PublishInputs, result: PublishResult) {
  return { ...inputs, ...result };
}
