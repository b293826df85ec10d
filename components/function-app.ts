/**
 * The Azure building block every Function App of this library goes through: inline callbacks
 * packaged by `artifact.ts` (Functions v4 programming model), a Flex Consumption app with a
 * system-assigned identity, identity-based host storage, Application Insights with Entra-only
 * ingestion, and the package deployed through one deploy (`flex-deployment.ts`).
 */
import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as storage from "@pulumi/azure-native/storage";
import * as web from "@pulumi/azure-native/web";
import * as pulumi from "@pulumi/pulumi";
import { type Artifact, artifactOutput, type RuntimeEntry, saveArtifact } from "./artifact";
import { grantRole } from "./azure-roles";
import { FlexDeployment, scmUrlOf } from "./flex-deployment";
import { storageAccountName } from "./naming";
import { applyTransform, type Transform } from "./transform";
import { ArgumentChecker, ownerLabel } from "./validation";

/** Node.js versions Flex Consumption offers for the v4 programming model. */
export type FunctionsNodeVersion = "20" | "22";

export interface FunctionAppArgs {
  /** The component the app belongs to, for error messages. @default `FunctionApp "<name>"` */
  owner?: string;
  resourceGroupName: pulumi.Input<string>;
  /** @default the resource group's location */
  location?: pulumi.Input<string>;
  /** The runtime module that registers the app's triggers (`app.storageQueue(...)`, ...). */
  entry: RuntimeEntry;
  /** The inline callbacks, by argument name. */
  callbacks: Record<string, ((...args: never[]) => unknown) | undefined>;
  /** host.json `extensions` (per-trigger settings such as queue message encoding). */
  hostExtensions?: Record<string, unknown>;
  /** Resource endpoints and non-secret settings; never keys or connection strings. */
  appSettings?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** @default "22" */
  nodeVersion?: FunctionsNodeVersion;
  /** Flex scale-out ceiling. @default 100 */
  maximumInstanceCount?: number;
  /** Memory per instance. @default 2048 */
  instanceMemoryMb?: 2048 | 4096;
  /** Log Analytics retention. @default 30 */
  logRetentionDays?: number;
  /** How long `pulumi up` waits for a code deployment. @default 600 */
  deploymentTimeoutSeconds?: number;
  transform?: {
    webApp?: Transform<web.WebAppArgs>;
    plan?: Transform<web.AppServicePlanArgs>;
    hostStorage?: Transform<storage.StorageAccountArgs>;
  };
}

export const FUNCTIONS_EXTENSION_BUNDLE = {
  id: "Microsoft.Azure.Functions.ExtensionBundle",
  version: "[4.0.0, 5.0.0)",
};

/** The files beside the bundle: host.json and a package.json whose `main` is the bundle. */
export function functionAppFiles(appName: string, hostExtensions?: Record<string, unknown>): Record<string, string> {
  const hostJson = {
    version: "2.0",
    extensionBundle: FUNCTIONS_EXTENSION_BUNDLE,
    ...(hostExtensions ? { extensions: hostExtensions } : {}),
  };
  const packageJson = { name: appName, version: "1.0.0", private: true, main: "index.js" };
  return {
    "host.json": `${JSON.stringify(hostJson, null, 2)}\n`,
    "package.json": `${JSON.stringify(packageJson, null, 2)}\n`,
  };
}

/** Validates the block's own arguments. */
export function validateFunctionAppArgs(
  owner: string,
  args: Pick<FunctionAppArgs, "maximumInstanceCount" | "instanceMemoryMb" | "logRetentionDays" | "nodeVersion">,
): ArgumentChecker {
  const checker = new ArgumentChecker(owner)
    .integerInRange("maximumInstanceCount", args.maximumInstanceCount, 1, 1000, "Flex Consumption allows")
    .integerInRange("logRetentionDays", args.logRetentionDays, 30, 730, "Log Analytics allows");
  if (args.instanceMemoryMb !== undefined) {
    checker.check(
      args.instanceMemoryMb === 2048 || args.instanceMemoryMb === 4096,
      "instanceMemoryMb",
      args.instanceMemoryMb,
      "is not a Flex Consumption instance size; use 2048 or 4096.",
    );
  }
  if (args.nodeVersion !== undefined) {
    checker.check(
      args.nodeVersion === "20" || args.nodeVersion === "22",
      "nodeVersion",
      args.nodeVersion,
      'is not offered for Node.js Functions on Flex Consumption; use "20" or "22".',
    );
  }
  return checker;
}

/** A Flex Consumption Function App running inline callbacks, with identity-based everything. */
export class FunctionApp extends pulumi.ComponentResource {
  readonly webApp: web.WebApp;
  readonly plan: web.AppServicePlan;
  /** The app's own host storage (AzureWebJobsStorage and the deployment container). */
  readonly hostStorage: storage.StorageAccount;
  readonly appInsights: applicationinsights.Component;
  readonly deployment: FlexDeployment;
  /** The packaged artifact (bundle, zip, hash), for inspection and tests. */
  readonly artifact: pulumi.Output<Artifact>;
  /** The object id of the app's system-assigned identity: grant it roles on what it uses. */
  readonly principalId: pulumi.Output<string>;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: FunctionAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:azure:FunctionApp", name, {}, opts);
    const owner = args.owner ?? ownerLabel("FunctionApp", name);
    validateFunctionAppArgs(owner, args).throwIfAny();
    const transform = args.transform ?? {};
    const nodeVersion = args.nodeVersion ?? "22";
    const { resourceGroupName, location } = args;

    this.artifact = artifactOutput({
      owner,
      host: "azure-functions",
      entry: args.entry,
      callbacks: args.callbacks,
      nodeMajor: Number(nodeVersion),
      extraFiles: functionAppFiles(name, args.hostExtensions),
    });

    this.hostStorage = new storage.StorageAccount(
      `${name}-host`,
      applyTransform(transform.hostStorage, {
        accountName: storageAccountName(`${name}-host`),
        resourceGroupName,
        location,
        kind: "StorageV2",
        sku: { name: "Standard_LRS" },
        minimumTlsVersion: "TLS1_2",
        enableHttpsTrafficOnly: true,
        allowBlobPublicAccess: false,
        // Identity only: the host, the deployment and Pulumi never need an account key.
        allowSharedKeyAccess: false,
        defaultToOAuthAuthentication: true,
      }),
      { parent: this },
    );
    const deploymentContainer = new storage.BlobContainer(
      `${name}-deployments`,
      { accountName: this.hostStorage.name, resourceGroupName, publicAccess: "None" },
      { parent: this },
    );

    const workspace = new operationalinsights.Workspace(
      `${name}-logs`,
      { resourceGroupName, location, sku: { name: "PerGB2018" }, retentionInDays: args.logRetentionDays ?? 30 },
      { parent: this },
    );
    this.appInsights = new applicationinsights.Component(
      `${name}-insights`,
      {
        resourceGroupName,
        location,
        kind: "web",
        applicationType: "web",
        workspaceResourceId: workspace.id,
        ingestionMode: "LogAnalytics",
        // Telemetry only from Entra identities (the app's), not from anyone holding the connection string.
        disableLocalAuth: true,
      },
      { parent: this },
    );

    this.plan = new web.AppServicePlan(
      `${name}-plan`,
      applyTransform(transform.plan, {
        resourceGroupName,
        location,
        kind: "functionapp",
        reserved: true,
        sku: { tier: "FlexConsumption", name: "FC1" },
      }),
      { parent: this },
    );

    const hostSettings: Record<string, pulumi.Input<string>> = {
      AzureWebJobsStorage__accountName: this.hostStorage.name,
      APPLICATIONINSIGHTS_CONNECTION_STRING: this.appInsights.connectionString,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD",
    };
    this.webApp = new web.WebApp(
      `${name}-app`,
      applyTransform(transform.webApp, {
        resourceGroupName,
        location,
        kind: "functionapp,linux",
        serverFarmId: this.plan.id,
        httpsOnly: true,
        identity: { type: "SystemAssigned" },
        functionAppConfig: {
          deployment: {
            storage: {
              type: "blobContainer",
              value: pulumi.interpolate`${this.hostStorage.primaryEndpoints.blob}${deploymentContainer.name}`,
              authentication: { type: "SystemAssignedIdentity" },
            },
          },
          runtime: { name: "node", version: nodeVersion },
          scaleAndConcurrency: {
            maximumInstanceCount: args.maximumInstanceCount ?? 100,
            instanceMemoryMB: args.instanceMemoryMb ?? 2048,
          },
        },
        siteConfig: {
          minTlsVersion: "1.2",
          ftpsState: "Disabled",
          appSettings: pulumi.output(args.appSettings ?? {}).apply((settings) =>
            Object.entries({ ...settings, ...hostSettings }).map(([settingName, value]) => ({
              name: settingName,
              value,
            })),
          ),
        },
      }),
      { parent: this },
    );
    this.principalId = this.webApp.identity.apply((identity) => {
      if (!identity?.principalId) throw new Error(`${owner}: the Function App reported no system-assigned identity`);
      return identity.principalId;
    });

    const grants = [
      grantRole(
        `${name}-host-storage`,
        { principalId: this.principalId, role: "Storage Blob Data Owner", scope: this.hostStorage.id },
        { parent: this },
      ),
      grantRole(
        `${name}-telemetry`,
        { principalId: this.principalId, role: "Monitoring Metrics Publisher", scope: this.appInsights.id },
        { parent: this },
      ),
    ];

    this.deployment = new FlexDeployment(
      `${name}-code`,
      {
        scmUrl: this.webApp.hostNameSslStates.apply((states) => scmUrlOf(states)),
        packagePath: this.artifact.apply(saveArtifact),
        packageSha256: this.artifact.sha256,
        timeoutSeconds: args.deploymentTimeoutSeconds,
      },
      // The host must be able to read its deployment container before code arrives.
      { parent: this, dependsOn: grants },
    );

    this.name = this.webApp.name;
    this.registerOutputs({ name: this.name, principalId: this.principalId });
  }
}
