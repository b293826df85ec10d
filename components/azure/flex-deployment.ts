/**
 * Code deployment for Flex Consumption Function Apps. Flex runs only what arrives through "one deploy"
 * (`POST https://<scm host>/api/publish`); it ignores WEBSITE_RUN_FROM_PACKAGE and rejects
 * /api/zipdeploy, and azure-native has no resource for it. This dynamic resource posts the package
 * with an Entra token whenever the package hash or the target (app, deployment container) changes,
 * follows that one deployment by its id until Kudu reports its end, then syncs the app's triggers
 * and waits until Azure Resource Manager lists the functions the package registers.
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
 * - Kudu's success says the package was stored, not that the app's triggers are known. On Flex a
 *   deployment Kudu calls successful can leave the app listing only `WarmUp`, or no function at all,
 *   until its triggers are synced (Azure/functions-action #373, azure-functions-host #10169 and
 *   #11915); until then the scale controller does not know the queue and Service Bus triggers, and
 *   they never scale out from zero. So the deployment syncs the triggers through ARM
 *   (`POST <site>/host/default/sync`, WebApps_SyncFunctions, what Core Tools' `func azure functionapp
 *   publish` calls after a deployment) and polls ARM's function list (`GET <site>/functions`) until every function the
 *   package registers is listed. Flex may run the new package in a process that started before the
 *   deployment (an instance specialized from placeholder mode), so the host's process uptime says
 *   nothing about which package it runs; the function list does.
 * - Tokens are fetched inside the provider, per request, with the deployer's own Azure credential,
 *   so none is stored in the state and none expires during a long wait; a 401 is retried once with a
 *   freshly fetched token.
 */
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS, flexDeploymentProvider } from "./flex-provider";

export interface FlexDeploymentArgs {
  scmUrl: pulumi.Input<string>;
  siteId: pulumi.Input<string>;
  /** The app's `functionAppConfig.deployment.storage.value`. */
  deploymentStorageUrl: pulumi.Input<string>;
  /** The functions the package registers. */
  functionNames: pulumi.Input<string[]>;
  packagePath: pulumi.Input<string>;
  packageSha256: pulumi.Input<string>;
  /** @default 1200 (a fresh role assignment can take 20 minutes to apply) */
  timeoutSeconds?: number;
}

/**
 * Deploys a package to a Flex Consumption app through one deploy and waits until its functions are
 * listed; redeploys when the package, the app or its deployment container changes.
 */
export class FlexDeployment extends pulumi.dynamic.Resource {
  declare readonly packageSha256: pulumi.Output<string>;
  declare readonly deploymentId: pulumi.Output<string>;
  /** The functions ARM listed after the deployment. */
  declare readonly functions: pulumi.Output<string[]>;

  constructor(name: string, args: FlexDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      flexDeploymentProvider,
      name,
      {
        ...args,
        timeoutSeconds: args.timeoutSeconds ?? DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS,
        deploymentId: undefined,
        statusText: undefined,
        functions: undefined,
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
