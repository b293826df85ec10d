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
import type { Callbacks } from "../core/runtime-factory";
import { type Artifact, type ArtifactSpec, artifactOutput, type RuntimeEntry, saveArtifact } from "../core/artifact";
import { type AzurePermission, checkAzurePermissions, grantRole } from "./roles";
import { hardenedStorageAccountArgs } from "./secure-defaults";
import { whenReported } from "../core/component";
import { FlexDeployment, scmUrlOf } from "./flex-deployment";
import { DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS } from "./flex-provider";
import { type DerivedName, derived, NAME_RULES, stableNameOptions } from "../core/naming";
import { applyTransform, type Transform } from "../core/transform";
import { ArgumentChecker, ownerLabel } from "../core/validation";
import { checkFunctionAppEnvironmentKeys, nonSecretAppSettings } from "./app-settings";

/**
 * Node.js versions Flex Consumption runs for the v4 programming model: "Node.js 22, Node.js 24" in
 * the plan's supported language stack versions
 * (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#supported-language-stack-versions),
 * and @azure/functions 4.16 supports 24 and 22. Node.js 20 reached its end of life on 2026-04-30
 * and Flex no longer lists it (https://learn.microsoft.com/azure/azure-functions/language-support-policy),
 * so it is not offered; 22 stays selectable until its own end of life (2027-04-30).
 */
export const FUNCTIONS_NODE_VERSIONS = ["24", "22"] as const;
export type FunctionsNodeVersion = (typeof FUNCTIONS_NODE_VERSIONS)[number];
/** The newest Node.js Flex Consumption runs. */
export const DEFAULT_FUNCTIONS_NODE_VERSION: FunctionsNodeVersion = "24";

/**
 * The settings of the Function App that runs a user's callbacks: what every Azure component takes
 * as `function` and passes through.
 */
export interface FunctionAppSettings {
  /**
   * The Node.js major version the app runs on; the bundle targets it and the package declares it.
   * @default "24"
   */
  nodeVersion?: FunctionsNodeVersion;
  /** Flex scale-out ceiling. @default 100 */
  maximumInstanceCount?: number;
  /** Memory per instance. @default 2048 */
  instanceMemoryMb?: 2048 | 4096;
  /** Log Analytics retention. @default 30 */
  logRetentionDays?: number;
  /**
   * Ship a source map beside the bundle and turn on Node.js's source-map support, so a stack trace
   * names your callback's TypeScript file and line instead of a position in the minified bundle.
   * Off by default: the archive grows to about 2.3 times its size (`npm run bench -- source-maps`).
   * @default false
   */
  sourceMap?: boolean;
  /**
   * How long `pulumi up` waits for a code deployment, from the first POST (retried while fresh role
   * assignments propagate) to Kudu's success; listing the functions afterwards has 600 s of its own.
   * @default 1200
   */
  deploymentTimeoutSeconds?: number;
  /**
   * Azure roles the user's callbacks need on resources of their own, granted to the app's
   * system-assigned identity, by a stable name (it names the role assignment). For data planes with
   * their own role system (Cosmos DB's SQL roles), grant `principalId` there instead.
   * @example { secrets: { role: "Key Vault Secrets User", scope: vault.id } }
   */
  permissions?: Record<string, AzurePermission>;
}

/** Escape hatches of the block's children, what a component offers as `transform.function`. */
export interface FunctionAppTransform {
  webApp?: Transform<web.WebAppArgs>;
  plan?: Transform<web.AppServicePlanArgs>;
  hostStorage?: Transform<storage.StorageAccountArgs>;
}

export interface FunctionAppArgs<C extends Callbacks = Callbacks> extends FunctionAppSettings {
  /** The component the app belongs to, for error messages. @default `FunctionApp "<name>"` */
  owner?: string;
  /** Where the owner's users write this block's `transform`, for error messages. @default "transform" */
  transformArgument?: string;
  resourceGroupName: pulumi.Input<string>;
  /** @default the resource group's location */
  location?: pulumi.Input<string>;
  /** The runtime module that registers the app's triggers (`app.storageQueue(...)`, ...), with its options. */
  entry: RuntimeEntry<C, any>;
  /** The inline callbacks, by argument name: those the entry's factory takes. */
  callbacks: C;
  /**
   * The names of the functions the entry registers with these options; the deployment waits until
   * Azure lists each of them.
   */
  functionNames: string[];
  /** host.json `extensions` (per-trigger settings such as queue message encoding). */
  hostExtensions?: Record<string, unknown>;
  /** Resource endpoints and non-secret settings, as app settings (`process.env`); never keys or connection strings. */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  transform?: FunctionAppTransform;
}

export const FUNCTIONS_EXTENSION_BUNDLE = {
  id: "Microsoft.Azure.Functions.ExtensionBundle",
  version: "[4.0.0, 5.0.0)",
};

/**
 * The physical names a FunctionApp named `<name>` gets from azure-native auto-naming, whose rules
 * bind its name (the host storage account's name is derived to fit whatever the name is).
 */
export const FUNCTION_APP_NAMES: readonly DerivedName[] = [
  derived("<name>-deployments", NAME_RULES.blobContainer),
  derived("<name>-app", NAME_RULES.webSite),
  derived("<name>-plan", NAME_RULES.appServicePlan),
  derived("<name>-logs", NAME_RULES.logAnalyticsWorkspace),
];

/**
 * The files beside the bundle: host.json, and a package.json whose `main` is the bundle and whose
 * `engines.node` names the Node.js major the bundle was built for (what runs it locally reads it).
 */
export function functionAppFiles(
  appName: string,
  hostExtensions?: Record<string, unknown>,
  nodeVersion: FunctionsNodeVersion = DEFAULT_FUNCTIONS_NODE_VERSION,
): Record<string, string> {
  const hostJson = {
    version: "2.0",
    extensionBundle: FUNCTIONS_EXTENSION_BUNDLE,
    ...(hostExtensions ? { extensions: hostExtensions } : {}),
  };
  const packageJson = {
    name: appName,
    version: "1.0.0",
    private: true,
    main: "index.js",
    engines: { node: `${nodeVersion}.x` },
  };
  return {
    "host.json": `${JSON.stringify(hostJson, null, 2)}\n`,
    "package.json": `${JSON.stringify(packageJson, null, 2)}\n`,
  };
}

/** What a Function App artifact is built from: the bundle targets the app's Node.js, and its package says so. */
export function functionAppArtifactSpec<C extends Callbacks>(spec: {
  owner: string;
  appName: string;
  entry: RuntimeEntry<C, any>;
  callbacks: C;
  hostExtensions?: Record<string, unknown>;
  nodeVersion?: FunctionsNodeVersion;
  sourceMap?: boolean;
}): ArtifactSpec<C> {
  const nodeVersion = spec.nodeVersion ?? DEFAULT_FUNCTIONS_NODE_VERSION;
  return {
    owner: spec.owner,
    host: "azure-functions",
    entry: spec.entry,
    callbacks: spec.callbacks,
    nodeMajor: Number(nodeVersion),
    extraFiles: functionAppFiles(spec.appName, spec.hostExtensions, nodeVersion),
    sourceMap: spec.sourceMap,
  };
}

/**
 * Site configuration Flex Consumption rejects at creation ("The following site configuration
 * property ... for Flex Consumption sites is invalid"), even when null in some regions
 * (azure-pipelines-tasks #21032, pulumi-azure-native #4168): the deprecated properties of
 * https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
 * and the ones those reports name.
 */
export const FLEX_REJECTED_SITE_CONFIG = [
  "alwaysOn",
  "ftpsState",
  "functionAppScaleLimit",
  "functionsRuntimeScaleMonitoringEnabled",
  "javaVersion",
  "linuxFxVersion",
  "netFrameworkVersion",
  "powerShellVersion",
  "preWarmedInstanceCount",
  "use32BitWorkerProcess",
  "vnetRouteAllEnabled",
  "windowsFxVersion",
] as const;

/**
 * A resource transformation that sends `siteConfig` exactly as declared. azure-native adds
 * `netFrameworkVersion: "v4.6"`, `http20Enabled` and `localMySqlEnabled` to every siteConfig it is
 * given (`siteConfigArgsProvideDefaults` in @pulumi/azure-native/types/input.js), and Flex rejects
 * netFrameworkVersion; the transformation runs after those defaults and before the request is sent.
 */
export function sendSiteConfigAsDeclared(siteConfig: web.WebAppArgs["siteConfig"]): pulumi.ResourceTransformation {
  return ({ props, opts }) => ({ props: { ...props, siteConfig }, opts });
}

/** Validates the block's own arguments. */
export function validateFunctionAppArgs(owner: string, args: FunctionAppSettings, prefix = ""): ArgumentChecker {
  const checker = new ArgumentChecker(owner)
    .integerInRange(`${prefix}maximumInstanceCount`, args.maximumInstanceCount, 1, 1000, "Flex Consumption allows")
    .integerInRange(`${prefix}logRetentionDays`, args.logRetentionDays, 30, 730, "Log Analytics allows")
    .integerInRange(
      `${prefix}deploymentTimeoutSeconds`,
      args.deploymentTimeoutSeconds,
      60,
      7200,
      "the deployer allows",
    );
  if (args.instanceMemoryMb !== undefined) {
    checker.check(
      args.instanceMemoryMb === 2048 || args.instanceMemoryMb === 4096,
      `${prefix}instanceMemoryMb`,
      args.instanceMemoryMb,
      "is not a Flex Consumption instance size; use 2048 or 4096.",
    );
  }
  if (args.nodeVersion !== undefined) {
    checker.check(
      FUNCTIONS_NODE_VERSIONS.includes(args.nodeVersion),
      `${prefix}nodeVersion`,
      args.nodeVersion,
      `is not offered for Node.js Functions on Flex Consumption; use ${FUNCTIONS_NODE_VERSIONS.map((v) => JSON.stringify(v)).join(" or ")}` +
        (args.nodeVersion === ("20" as string) ? " (Node.js 20 reached its end of life on 2026-04-30)." : "."),
    );
  }
  checkAzurePermissions(checker, `${prefix}permissions`, args.permissions);
  return checker;
}

/** A Flex Consumption Function App running inline callbacks, with identity-based everything. */
export class FunctionApp<C extends Callbacks = Callbacks> extends pulumi.ComponentResource {
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

  constructor(name: string, args: FunctionAppArgs<C>, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:azure:FunctionApp", name, {}, opts);
    const owner = args.owner ?? ownerLabel("FunctionApp", name);
    const checker = validateFunctionAppArgs(owner, args);
    checkFunctionAppEnvironmentKeys(checker, args.environment);
    checker.throwIfAny();
    const transform = args.transform ?? {};
    const nodeVersion = args.nodeVersion ?? DEFAULT_FUNCTIONS_NODE_VERSION;
    const { resourceGroupName, location } = args;

    this.artifact = artifactOutput(
      functionAppArtifactSpec({
        owner,
        appName: name,
        entry: args.entry,
        callbacks: args.callbacks,
        hostExtensions: args.hostExtensions,
        nodeVersion,
        sourceMap: args.sourceMap,
      }),
    );

    this.hostStorage = new storage.StorageAccount(
      `${name}-host`,
      // Identity only: the host, the deployment and Pulumi never need an account key.
      applyTransform(
        transform.hostStorage,
        hardenedStorageAccountArgs({ logicalName: `${name}-host`, resourceGroupName, location }),
      ),
      // The derived name changes with the project or stack name; the one in the state stays.
      { parent: this, ...stableNameOptions("accountName") },
    );
    const deploymentContainer = new storage.BlobContainer(
      `${name}-deployments`,
      {
        accountName: this.hostStorage.name,
        resourceGroupName,
        // azure-native would copy the logical name, capitals included, which Blob storage refuses.
        containerName: `${name}-deployments`.toLowerCase(),
        publicAccess: "None",
      },
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

    const deploymentStorageUrl = pulumi.interpolate`${this.hostStorage.primaryEndpoints.blob}${deploymentContainer.name}`;
    const hostSettings: Record<string, pulumi.Input<string>> = {
      AzureWebJobsStorage__accountName: this.hostStorage.name,
      APPLICATIONINSIGHTS_CONNECTION_STRING: this.appInsights.connectionString,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD",
    };
    const webAppArgs = applyTransform(transform.webApp, {
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
            value: deploymentStorageUrl,
            authentication: { type: "SystemAssignedIdentity" },
          },
        },
        runtime: { name: "node", version: nodeVersion },
        scaleAndConcurrency: {
          maximumInstanceCount: args.maximumInstanceCount ?? 100,
          instanceMemoryMB: args.instanceMemoryMb ?? 2048,
        },
      },
      // Only what Flex accepts: no ftpsState (Flex has no FTP endpoint) and none of the SDK's defaults.
      siteConfig: {
        minTlsVersion: "1.2",
        appSettings: nonSecretAppSettings(owner, args.environment ?? {}, "permissions").apply((settings) =>
          Object.entries({ ...settings, ...hostSettings }).map(([settingName, value]) => ({
            name: settingName,
            value,
          })),
        ),
      },
    });
    const declared = Object.keys(webAppArgs.siteConfig ?? {});
    const rejected = FLEX_REJECTED_SITE_CONFIG.filter((property) => declared.includes(property));
    if (rejected.length > 0) {
      throw new Error(
        `${owner}: ${args.transformArgument ?? "transform"}.webApp sets siteConfig.${rejected.join(", siteConfig.")}, which Flex Consumption rejects ` +
          "when it creates the app; remove it (see https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).",
      );
    }
    this.webApp = new web.WebApp(`${name}-app`, webAppArgs, {
      parent: this,
      transformations: [sendSiteConfigAsDeclared(webAppArgs.siteConfig)],
    });
    this.principalId = this.webApp.identity.apply((identity) => whenReported([identity?.principalId], (id) => id));

    const grants = [
      grantRole(
        `${name}-host-storage`,
        { principalId: this.principalId, role: "Storage Blob Data Owner", scope: this.hostStorage.id },
        { parent: this },
      ),
      // The host stores diagnostic events in Table storage through AzureWebJobsStorage and reports
      // AZFD0003 without table access
      // (https://learn.microsoft.com/azure/azure-functions/errors-diagnostics/diagnostic-events/azfd0003);
      // the official Flex samples grant it too. Some host versions still log the event with an
      // identity connection (azure-functions-host #10163).
      grantRole(
        `${name}-host-tables`,
        { principalId: this.principalId, role: "Storage Table Data Contributor", scope: this.hostStorage.id },
        { parent: this },
      ),
      grantRole(
        `${name}-telemetry`,
        { principalId: this.principalId, role: "Monitoring Metrics Publisher", scope: this.appInsights.id },
        { parent: this },
      ),
    ];
    for (const [grantName, { role, scope }] of Object.entries(args.permissions ?? {})) {
      grantRole(`${name}-callback-${grantName}`, { principalId: this.principalId, role, scope }, { parent: this });
    }

    this.deployment = new FlexDeployment(
      `${name}-code`,
      {
        scmUrl: this.webApp.hostNameSslStates.apply((states) => whenReported([states], scmUrlOf)),
        siteId: this.webApp.id,
        // The container the app reads: a replaced host account or container takes a redeploy.
        deploymentStorageUrl: this.webApp.functionAppConfig.apply((config) => config?.deployment?.storage?.value ?? ""),
        functionNames: args.functionNames,
        packagePath: this.artifact.apply(saveArtifact),
        packageSha256: this.artifact.sha256,
        timeoutSeconds: args.deploymentTimeoutSeconds ?? DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS,
      },
      // The host must be able to read its deployment container before code arrives.
      { parent: this, dependsOn: grants },
    );

    this.name = this.webApp.name;
    this.registerOutputs({ name: this.name, principalId: this.principalId });
  }
}
