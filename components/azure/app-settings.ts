/**
 * What a Function App's `environment` (its app settings) may hold, checked the same way for
 * FunctionApp and every Azure component: no setting the Functions host reads for itself, and no
 * secrets (they would be plain text in the app's configuration).
 */
import * as pulumi from "@pulumi/pulumi";
import { type ArgumentChecker, refuseSecretValues } from "../core/validation";

/** An app's settings as its owner gives them. */
type AppSettings = pulumi.Input<Record<string, pulumi.Input<string>>> | undefined;

/**
 * App settings the Functions host reads for itself: its storage (`AzureWebJobsStorage`, with or
 * without `__` properties), telemetry (`APPLICATIONINSIGHTS_*`, which this block sets) and `FUNCTIONS_*`
 * (the worker runtime and version, which Flex Consumption takes from `functionAppConfig` and refuses as
 * settings: https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).
 */
const HOST_SETTING_PREFIXES = ["AzureWebJobsStorage", "APPLICATIONINSIGHTS_", "FUNCTIONS_"];

/**
 * Records a problem for each key of a known `environment` that names a host setting; a map given as
 * an Output is left to the host.
 */
export function checkFunctionAppEnvironmentKeys(
  checker: ArgumentChecker,
  environment: AppSettings,
  argument = "environment",
): void {
  if (typeof environment !== "object" || environment === null || pulumi.Output.isInstance(environment)) return;
  if (environment instanceof Promise) return;
  for (const [key, value] of Object.entries(environment)) {
    const prefix = HOST_SETTING_PREFIXES.find((reserved) => key.toLowerCase().startsWith(reserved.toLowerCase()));
    checker.check(
      prefix === undefined,
      `${argument}.${key}`,
      value,
      `names a setting of the Functions host (${prefix}...), which the Function App sets itself; choose another name.`,
    );
  }
}

/**
 * `environment` as an Output that fails the deployment if a value in it is a secret: app settings are
 * plain text to anyone who may read the app's configuration. `permissionsArgument` names where the
 * owner's users grant the app a role on a Key Vault.
 */
export function nonSecretAppSettings(
  owner: string,
  environment: NonNullable<AppSettings>,
  permissionsArgument: string,
  argument = "environment",
): pulumi.Output<Record<string, string>> {
  return refuseSecretValues(
    owner,
    argument,
    environment,
    "app settings are plain text in the app's configuration. Store the secret in Key Vault, grant " +
      `"Key Vault Secrets User" on it with ${permissionsArgument} and read it at run time.`,
  );
}
