/**
 * What a Lambda function's `environment` may hold, checked the same way for LambdaFunction and every
 * AWS component: the names Lambda accepts and reserves, the names the component sets itself, and no
 * secrets (they would be plain text in the function's configuration).
 */
import * as pulumi from "@pulumi/pulumi";
import { type ArgumentChecker, refuseSecretValues } from "../core/validation";

/** A function's environment as its owner gives it. */
type Environment = pulumi.Input<Record<string, pulumi.Input<string>>> | undefined;

/**
 * Keys Lambda sets itself in every execution environment and refuses in a function's configuration
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
 */
export const LAMBDA_RESERVED_ENVIRONMENT_KEYS: readonly string[] = [
  "_HANDLER",
  "_X_AMZN_TRACE_ID",
  "AWS_DEFAULT_REGION",
  "AWS_REGION",
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_FUNCTION_NAME",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_INITIALIZATION_TYPE",
  "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME",
  "AWS_ACCESS_KEY",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_LAMBDA_RUNTIME_API",
  "LAMBDA_TASK_ROOT",
  "LAMBDA_RUNTIME_DIR",
  "TZ",
];

/**
 * An environment variable name as Lambda's API accepts it: a letter, then at least one letter,
 * digit or `_` (https://docs.aws.amazon.com/lambda/latest/dg/API_Environment.html, "Key Pattern").
 */
const LAMBDA_ENVIRONMENT_KEY = /^[A-Za-z][A-Za-z0-9_]+$/;

/** What a component sets in its function's environment itself, which its users may not set. */
export interface OwnEnvironment {
  /** Names the component sets. */
  keys?: readonly string[];
  /** A prefix of every name the component sets. */
  prefix?: string;
}

/**
 * Records a problem for each key of a known `environment` that Lambda refuses (its reserved keys,
 * a name outside its key pattern) or that the component sets itself (`own`), which would otherwise
 * be overwritten without a word; a map given as an Output is left to Lambda.
 */
export function checkLambdaEnvironmentKeys(
  checker: ArgumentChecker,
  environment: Environment,
  own: OwnEnvironment = {},
  argument = "environment",
): void {
  if (typeof environment !== "object" || environment === null || pulumi.Output.isInstance(environment)) return;
  if (environment instanceof Promise) return;
  for (const [key, value] of Object.entries(environment)) {
    const where = `${argument}.${key}`;
    if (LAMBDA_RESERVED_ENVIRONMENT_KEYS.includes(key)) {
      checker.check(
        false,
        where,
        value,
        "is a key Lambda sets itself and refuses in a function's configuration; choose another name " +
          "(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).",
      );
    } else if (!LAMBDA_ENVIRONMENT_KEY.test(key)) {
      checker.check(
        false,
        where,
        value,
        "has a name that is not an environment variable name; use at least two letters, digits and _, starting with a letter.",
      );
    } else if (own.keys?.includes(key) || (own.prefix !== undefined && key.startsWith(own.prefix))) {
      checker.check(
        false,
        where,
        value,
        own.keys?.includes(key)
          ? "is set by the component itself; choose another name."
          : `uses the reserved prefix ${own.prefix}; choose another name.`,
      );
    }
  }
}

/**
 * `environment` as an Output that fails the deployment if a value in it is a secret: Lambda shows
 * environment variables in plain text to anyone who may read the function's configuration.
 * `permissionsArgument` names where the owner's users grant the function access to a secret.
 */
export function nonSecretLambdaEnvironment(
  owner: string,
  environment: NonNullable<Environment>,
  permissionsArgument: string,
  argument = "environment",
): pulumi.Output<Record<string, string>> {
  return refuseSecretValues(
    owner,
    argument,
    environment,
    "environment variables are plain text in the function's configuration. Store the secret in Secrets Manager, " +
      `grant secretsmanager:GetSecretValue on it with ${permissionsArgument} and read it at run time.`,
  );
}
