/**
 * The AWS building block every Lambda of this library goes through: an inline callback packaged by
 * `artifact.ts`, the function, its own role with least-privilege inline policy, and its own log
 * group with retention.
 */
import { runtimeFactory } from "../core/runtime-factory";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type * as plainCallbackRuntime from "../../runtime/lambda-function";
import type { Callbacks } from "../core/runtime-factory";
import { type Artifact, artifactOutput, type RuntimeEntry, runtimeEntry, saveArtifact } from "../core/artifact";
import { whenReported } from "../core/component";
import { type DerivedName, derived, NAME_RULES } from "../core/naming";
import { applyTransform, type Transform } from "../core/transform";
import { ArgumentChecker, describeValue, ownerLabel } from "../core/validation";
import { checkLambdaEnvironmentKeys, nonSecretLambdaEnvironment } from "./lambda-environment";

/**
 * Lambda runtimes this library targets. nodejs24.x is the default (available since 2025-11-25);
 * nodejs22.x stays selectable until its deprecation on 2027-04-30
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
 */
export type LambdaNodeRuntime = "nodejs22.x" | "nodejs24.x";

/**
 * Where `@aws-sdk/*` comes from.
 * - `"bundle"` (default): bundled and tree-shaken into the artifact. The code runs against the SDK
 *   version it was tested with, not whatever the managed runtime ships that week (AWS's own advice),
 *   and a single pre-resolved file loads faster than the runtime's node_modules.
 * - `"runtime"`: left out, the runtime's preinstalled SDK v3 is used: a smaller archive, an SDK
 *   version you do not control.
 */
export type AwsSdkSource = "bundle" | "runtime";

/**
 * The settings of a function that runs a user's callback: what every component takes as `function`
 * (or `functions.<role>`) and passes through, with its own defaults where it says so.
 */
export interface LambdaFunctionSettings {
  /** @default 30 */
  timeoutSeconds?: number;
  /** @default 256 */
  memorySizeMb?: number;
  /** @default "nodejs24.x" */
  runtime?: LambdaNodeRuntime;
  /** @default "arm64" (Graviton: cheaper per GB-second; the bundle is pure JavaScript) */
  architecture?: "arm64" | "x86_64";
  /** @default "bundle"; see {@link AwsSdkSource}. */
  awsSdk?: AwsSdkSource;
  /**
   * Ship a source map beside the bundle and turn on Node.js's source-map support, so a stack trace
   * names your callback's TypeScript file and line instead of a position in the minified bundle.
   * Off by default: the archive grows to about 2.3 times its size (`npm run bench -- source-maps`).
   * @default false
   */
  sourceMap?: boolean;
  /**
   * What the user's callbacks need beyond what the component grants, added to the function's role
   * as one Allow statement each.
   * @example [{ actions: ["dynamodb:PutItem"], resources: [table.arn] }]
   */
  permissions?: AwsPermission[];
  /** @default 30 */
  logRetentionDays?: number;
  /**
   * Reserved concurrency, at least 1; unset means the account's unreserved pool. Lambda always keeps
   * 100 of the account's concurrency quota unreserved, so an account at the default quota of 1000
   * can reserve at most 900 across all its functions, and an account with a quota of 10 (some new
   * accounts) none at all: Lambda refuses more at deployment. At most 900 is accepted here; to
   * reserve more, raise the quota and set `reservedConcurrentExecutions` in the function's transform
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
   */
  reservedConcurrency?: number;
}

/** Escape hatches of the block's children, what a component offers as `transform.function`. */
export interface LambdaFunctionTransform {
  function?: Transform<aws.lambda.FunctionArgs>;
  role?: Transform<aws.iam.RoleArgs>;
  logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
}

export interface LambdaFunctionArgs<C extends Callbacks = Callbacks> extends LambdaFunctionSettings {
  /** The component the function belongs to, for error messages. @default `LambdaFunction "<name>"` */
  owner?: string;
  /**
   * The runtime module, factory and options the artifact starts from (see {@link runtimeEntry}).
   * @default the plain runtime: `callbacks.handler` is the Lambda handler
   */
  entry?: RuntimeEntry<C, any>;
  /**
   * The inline callbacks, by argument name: those the entry's factory takes.
   * @example { handler: async (event) => { console.log(event); } }
   */
  callbacks: C;
  /**
   * Resource ids and non-secret settings for the function, read at run time from `process.env`.
   * @example { API_URL: "https://api.example.com" }
   */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** What the function may do beyond writing its logs: exact actions on exact resources. */
  policyStatements?: pulumi.Input<aws.iam.PolicyStatement[]>;
  /** Escape hatches: change what this block did not foresee. */
  transform?: LambdaFunctionTransform;
}

/** One Allow statement for a user's callback: IAM actions (`service:Action`) on resource ARNs. */
export interface AwsPermission {
  actions: string[];
  resources: pulumi.Input<string>[];
}

/** Retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/**
 * The most reserved concurrency an account at Lambda's default quota (1000) can give a function:
 * Lambda keeps 100 unreserved (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
 */
const MAX_RESERVED_CONCURRENCY = 900;

const LAMBDA_ARCHITECTURES: readonly string[] = ["arm64", "x86_64"];

export const LAMBDA_NODE_MAJOR: Record<LambdaNodeRuntime, number> = { "nodejs22.x": 22, "nodejs24.x": 24 };

/** The physical names a LambdaFunction named `<name>` gets from pulumi-aws auto-naming, whose rules bind its name. */
export const LAMBDA_FUNCTION_NAMES: readonly DerivedName[] = [
  derived("<name>-function", NAME_RULES.lambdaFunction),
  derived("<name>-role", NAME_RULES.iamRole),
];

/** The runtime of a plain function: the `handler` callback is the Lambda handler. */
const PLAIN_CALLBACK_ENTRY = runtimeEntry(
  runtimeFactory<typeof plainCallbackRuntime>(require.resolve("../../runtime/lambda-function"))("createHandler"),
  undefined,
);

/**
 * Throws when an SQS event source mapping, as a component's `transform.eventSourceMapping` left it,
 * uses provisioned mode (`provisionedPollerConfig`) together with a maximum concurrency
 * (`scalingConfig`): Lambda takes one or the other
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
 */
export function checkSqsEventSourceMapping(owner: string, mapping: aws.lambda.EventSourceMappingArgs): void {
  if (mapping.provisionedPollerConfig === undefined || mapping.scalingConfig === undefined) return;
  const maximumConcurrency = (mapping.scalingConfig as { maximumConcurrency?: unknown }).maximumConcurrency;
  new ArgumentChecker(owner)
    .check(
      false,
      "transform.eventSourceMapping.provisionedPollerConfig",
      mapping.provisionedPollerConfig,
      `(provisioned mode) cannot be combined with a maximum concurrency (maxConcurrency, scalingConfig.maximumConcurrency ${describeValue(maximumConcurrency)}): ` +
        "Lambda takes one or the other for SQS. In provisioned mode, bound concurrency with provisionedPollerConfig.maximumPollers " +
        "and set scalingConfig: undefined in the same transform; otherwise remove provisionedPollerConfig.",
    )
    .throwIfAny();
}

/** Validates the block's own arguments; returns the problems so owners can report them with theirs. */
export function validateLambdaFunctionArgs(owner: string, args: LambdaFunctionSettings, prefix = ""): ArgumentChecker {
  const checker = new ArgumentChecker(owner)
    .integerInRange(`${prefix}timeoutSeconds`, args.timeoutSeconds, 1, 900, "Lambda allows")
    .integerInRange(`${prefix}memorySizeMb`, args.memorySizeMb, 128, 10240, "Lambda allows")
    .check(
      args.reservedConcurrency === undefined ||
        (Number.isInteger(args.reservedConcurrency) &&
          args.reservedConcurrency >= 0 &&
          args.reservedConcurrency <= MAX_RESERVED_CONCURRENCY),
      `${prefix}reservedConcurrency`,
      args.reservedConcurrency,
      `is out of range; Lambda keeps 100 of the account's concurrency unreserved, so at the default quota of 1000 it allows 0..${MAX_RESERVED_CONCURRENCY} ` +
        "(fewer at a lower quota). To reserve more, raise the account's quota and set reservedConcurrentExecutions in the function's transform.",
    );
  // Zero throttles every invocation: queued records back off until they expire, events retry and fail.
  checker.check(
    args.reservedConcurrency !== 0,
    `${prefix}reservedConcurrency`,
    args.reservedConcurrency,
    "would throttle every invocation; leave it unset or reserve at least 1. To pause the function on purpose, set reservedConcurrentExecutions: 0 in its transform.",
  );
  if (args.logRetentionDays !== undefined) {
    checker.check(
      (LOG_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays),
      `${prefix}logRetentionDays`,
      args.logRetentionDays,
      `is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(", ")}.`,
    );
  }
  if (args.runtime !== undefined) {
    checker.check(
      args.runtime in LAMBDA_NODE_MAJOR,
      `${prefix}runtime`,
      args.runtime,
      `is not supported; use one of ${Object.keys(LAMBDA_NODE_MAJOR).join(", ")}.`,
    );
  }
  if (args.architecture !== undefined) {
    checker.check(
      LAMBDA_ARCHITECTURES.includes(args.architecture),
      `${prefix}architecture`,
      args.architecture,
      `is not a Lambda architecture; use ${LAMBDA_ARCHITECTURES.map((a) => JSON.stringify(a)).join(" or ")}.`,
    );
  }
  if (args.awsSdk !== undefined) {
    checker.check(
      args.awsSdk === "bundle" || args.awsSdk === "runtime",
      `${prefix}awsSdk`,
      args.awsSdk,
      'is not an SDK source; use "bundle" (the default) or "runtime".',
    );
  }
  (args.permissions ?? []).forEach((permission, i) => {
    const at = `${prefix}permissions[${i}]`;
    checker.check(
      Array.isArray(permission.actions) &&
        permission.actions.length > 0 &&
        permission.actions.every((action) => typeof action === "string" && IAM_ACTION.test(action)),
      `${at}.actions`,
      permission.actions,
      'must list IAM actions as "service:Action" (wildcards allowed), e.g. ["dynamodb:PutItem"].',
    );
    checker.check(
      Array.isArray(permission.resources) && permission.resources.length > 0,
      `${at}.resources`,
      permission.resources,
      "must list the ARNs the actions apply to, e.g. [table.arn].",
    );
  });
  return checker;
}

/** An IAM action as policies spell it: `service:Action`, `*` and `?` allowed in the action part. */
const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/;

/** The statements of a user's permissions, one Allow each. */
export function permissionStatements(permissions: AwsPermission[] = []): pulumi.Output<aws.iam.PolicyStatement[]> {
  return pulumi.output(
    permissions.map((permission, i) =>
      pulumi.all(permission.resources).apply((resources): aws.iam.PolicyStatement => ({
        Sid: `CallbackPermission${i}`,
        Effect: "Allow",
        Action: permission.actions,
        Resource: resources,
      })),
    ),
  );
}

/** A Lambda function built from inline callbacks, with its own role and log group. */
export class LambdaFunction<C extends Callbacks = Callbacks> extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  readonly role: aws.iam.Role;
  readonly logGroup: aws.cloudwatch.LogGroup;
  /** The packaged artifact (bundle, zip, hash), for inspection and tests. */
  readonly artifact: pulumi.Output<Artifact>;
  readonly arn: pulumi.Output<string>;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: LambdaFunctionArgs<C>, opts?: pulumi.ComponentResourceOptions) {
    super("queue-patterns:aws:LambdaFunction", name, {}, opts);
    const owner = args.owner ?? ownerLabel("LambdaFunction", name);
    const runtime = args.runtime ?? "nodejs24.x";
    const checker = validateLambdaFunctionArgs(owner, args);
    checkLambdaEnvironmentKeys(checker, args.environment);
    checker.throwIfAny();
    const transform = args.transform ?? {};

    this.artifact = artifactOutput({
      owner,
      host: "aws-lambda",
      // Without an entry the callbacks are the plain runtime's: `handler` is the handler.
      entry: args.entry ?? (PLAIN_CALLBACK_ENTRY as unknown as RuntimeEntry<C>),
      callbacks: args.callbacks,
      nodeMajor: LAMBDA_NODE_MAJOR[runtime],
      external: (args.awsSdk ?? "bundle") === "runtime" ? ["@aws-sdk/*"] : [],
      sourceMap: args.sourceMap,
    });

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      applyTransform(transform.logGroup, { retentionInDays: args.logRetentionDays ?? 30 }),
      { parent: this },
    );

    this.role = new aws.iam.Role(
      `${name}-role`,
      applyTransform(transform.role, {
        assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "lambda.amazonaws.com" }),
      }),
      { parent: this },
    );

    const policy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: pulumi
          .all([this.logGroup.arn, args.policyStatements ?? [], permissionStatements(args.permissions)])
          .apply(([logGroupArn, statements, callbackStatements]) =>
            whenReported([logGroupArn, statements], () =>
              JSON.stringify(functionPolicy(logGroupArn, [...statements, ...callbackStatements])),
            ),
          ),
      },
      { parent: this },
    );

    this.function = new aws.lambda.Function(
      `${name}-function`,
      applyTransform(transform.function, {
        runtime,
        architectures: [args.architecture ?? "arm64"],
        handler: "index.handler",
        role: this.role.arn,
        code: this.artifact.apply((artifact) => new pulumi.asset.FileArchive(saveArtifact(artifact))),
        sourceCodeHash: this.artifact.apply((artifact) => Buffer.from(artifact.sha256, "hex").toString("base64")),
        timeout: args.timeoutSeconds ?? 30,
        memorySize: args.memorySizeMb ?? 256,
        reservedConcurrentExecutions: args.reservedConcurrency,
        environment: args.environment
          ? { variables: nonSecretLambdaEnvironment(owner, args.environment, "permissions") }
          : undefined,
        loggingConfig: { logFormat: "JSON", logGroup: this.logGroup.name, applicationLogLevel: "INFO" },
        tracingConfig: { mode: "Active" },
      }),
      { parent: this, dependsOn: [policy] },
    );

    this.arn = this.function.arn;
    this.name = this.function.name;
    this.registerOutputs({ arn: this.arn, name: this.name });
  }
}

/** The function's whole policy: its own log group, X-Ray, and the owner's statements. */
export function functionPolicy(logGroupArn: string, statements: aws.iam.PolicyStatement[]): aws.iam.PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [`${logGroupArn}:*`],
      },
      {
        // X-Ray trace submission supports no resource-level permissions, so `*` is the only form.
        Sid: "WriteTraces",
        Effect: "Allow",
        Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        Resource: ["*"],
      },
      ...statements,
    ],
  };
}
