/**
 * Azure RBAC: the built-in roles this library grants, and one way to grant them, so every component
 * gives identities exactly the data-plane roles they use on exactly the resources they touch.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import type * as pulumi from "@pulumi/pulumi";
import type { AwsPermission } from "../aws/lambda-function";
import type { ArgumentChecker } from "../core/validation";

/**
 * Built-in role definition ids (the same GUID in every subscription), from
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 */
export const BUILT_IN_ROLES = {
  "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  "Storage Queue Data Reader": "19e7f393-937e-4f77-808e-94535e297925",
  "Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed",
  "Storage Queue Data Message Sender": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
  "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
  "Azure Service Bus Data Owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
  "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
  "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
  "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
} as const;

export type BuiltInRole = keyof typeof BUILT_IN_ROLES;

/** A role definition GUID, for a built-in role not named in BUILT_IN_ROLES or a custom role. */
export type RoleDefinitionGuid = `${string}-${string}-${string}-${string}-${string}`;

export interface RoleGrant {
  /** The object id of the identity (a managed identity's principalId). */
  principalId: pulumi.Input<string>;
  /** A role of BUILT_IN_ROLES by name, or any role definition by its GUID. */
  role: BuiltInRole | RoleDefinitionGuid;
  /** The resource id the role applies to: the narrowest one that works. */
  scope: pulumi.Input<string>;
  /** @default "ServicePrincipal" (managed identities); saying so avoids Entra replication-delay failures. */
  principalType?: "ServicePrincipal" | "User" | "Group";
}

/**
 * A role the user's callbacks need on a resource of their own (a Function App component grants it to
 * its app's identity), e.g. `{ role: "Key Vault Secrets User", scope: vault.id }`: Azure's form of
 * `function.permissions`, beside AWS's {@link AwsPermission}.
 */
export type AzurePermission = Pick<RoleGrant, "role" | "scope">;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The GUID of a role given by name or GUID. */
export function roleGuid(role: RoleGrant["role"]): string {
  return role in BUILT_IN_ROLES ? BUILT_IN_ROLES[role as BuiltInRole] : role;
}

/** The full role definition id in the current subscription. */
export function roleDefinitionId(role: RoleGrant["role"]): pulumi.Output<string> {
  return authorization
    .getClientConfigOutput()
    .apply(
      (config) =>
        `/subscriptions/${config.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid(role)}`,
    );
}

/** Records a problem for every permission whose role is neither a known name nor a GUID, or has no scope. */
export function checkAzurePermissions(
  checker: ArgumentChecker,
  argument: string,
  roles: Record<string, AzurePermission> | undefined,
): void {
  for (const [grantName, grant] of Object.entries(roles ?? {})) {
    const role = grant?.role as string | undefined;
    checker.check(
      typeof role === "string" && (role in BUILT_IN_ROLES || GUID.test(role)),
      `${argument}.${grantName}.role`,
      role,
      `is neither a role this library knows (${Object.keys(BUILT_IN_ROLES).join(", ")}) nor a role definition GUID; ` +
        "find the GUID at https://learn.microsoft.com/azure/role-based-access-control/built-in-roles.",
    );
    checker.check(
      grant?.scope !== undefined && grant?.scope !== "",
      `${argument}.${grantName}.scope`,
      grant?.scope,
      "must be the resource id the role applies to, e.g. vault.id.",
    );
  }
}

/**
 * Records a problem when a known principal id is not a GUID: a role assignment names its principal
 * by Entra object id (https://learn.microsoft.com/azure/role-based-access-control/role-assignments#principal),
 * not by name, client id or an identity's resource id. An Output is left to ARM.
 */
export function checkPrincipalId(checker: ArgumentChecker, argument: string, principalId: unknown): void {
  if (typeof principalId !== "string") return;
  checker.check(
    GUID.test(principalId),
    argument,
    principalId,
    "is not a principal (object) id; give the identity's object id, a GUID such as app.principalId or " +
      'the "Object ID" Entra ID shows for a user or group.',
  );
}

/** Creates one role assignment. */
export function grantRole(
  name: string,
  grant: RoleGrant,
  opts: pulumi.CustomResourceOptions,
): authorization.RoleAssignment {
  return new authorization.RoleAssignment(
    name,
    {
      principalId: grant.principalId,
      principalType: grant.principalType ?? "ServicePrincipal",
      roleDefinitionId: roleDefinitionId(grant.role),
      scope: grant.scope,
    },
    opts,
  );
}
