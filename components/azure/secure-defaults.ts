/**
 * Secure defaults the Azure components share, beside `aws-secure-defaults.ts`: one definition of a
 * hardened storage account, so FanOutIngest's data account and every Function App's host account
 * cannot drift apart.
 */
import type * as storage from "@pulumi/azure-native/storage";
import type * as pulumi from "@pulumi/pulumi";
import { storageAccountName } from "../core/naming";

/**
 * A StorageV2 account reachable only over TLS 1.2+ and only with Entra identities: no anonymous blob
 * access, no account keys or SAS (`allowSharedKeyAccess: false`, so a leaked key is worth nothing and
 * every caller, Pulumi included, uses its identity), no object replication into other tenants.
 * The name is derived from the logical name (see `naming.ts`).
 */
export function hardenedStorageAccountArgs(args: {
  logicalName: string;
  resourceGroupName: pulumi.Input<string>;
  location?: pulumi.Input<string>;
}): storage.StorageAccountArgs {
  return {
    accountName: storageAccountName(args.logicalName),
    resourceGroupName: args.resourceGroupName,
    location: args.location,
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    defaultToOAuthAuthentication: true,
    allowCrossTenantReplication: false,
  };
}
