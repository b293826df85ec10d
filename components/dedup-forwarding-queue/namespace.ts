/**
 * The Service Bus namespace DedupForwardingQueue puts its queues in: one it creates, or an existing
 * one it looks up. Either way the rest of the component sees the same few outputs.
 */
import * as servicebus from "@pulumi/azure-native/servicebus";
import * as pulumi from "@pulumi/pulumi";
import { whenReported } from "../core/component";
import { usesExisting } from "../core/existing";
import { stableNameOptions, uniqueSuffix } from "../core/naming";
import { applyTransform, type Transform } from "../core/transform";
import { InvalidArgumentsError } from "../core/validation";
import { DEFAULTS, type DedupForwardingQueueArgs } from "./args";

/** What the queues, the app and the alarm need of the namespace. */
export interface DeclaredNamespace {
  /** The created namespace; undefined with `namespace.existing`. */
  resource?: servicebus.Namespace;
  name: pulumi.Output<string>;
  resourceGroupName: pulumi.Output<string>;
  id: pulumi.Output<string>;
  /** The host name producers and the trigger connect to, e.g. `name.servicebus.windows.net`. */
  fullyQualifiedNamespace: pulumi.Output<string>;
}

/** Creates the namespace `args.namespace` describes, or looks up the existing one it names. */
export function declareNamespace(
  name: string,
  owner: string,
  args: DedupForwardingQueueArgs,
  transform: Transform<servicebus.NamespaceArgs> | undefined,
  opts: { parent: pulumi.Resource },
): DeclaredNamespace {
  if (usesExisting(args.namespace)) {
    const { existing } = args.namespace;
    const resourceGroupName = pulumi.output(existing.resourceGroupName ?? args.resourceGroupName);
    const found = servicebus.getNamespaceOutput({ namespaceName: existing.name, resourceGroupName }, opts);
    return {
      name: found.name,
      resourceGroupName,
      id: found.id,
      fullyQualifiedNamespace: found.apply((result) => existingNamespaceHost(owner, result)),
    };
  }
  const { name: namespaceName, tier = DEFAULTS.namespace.tier, messagingUnits, allowLocalAuth } = args.namespace ?? {};
  const namespace = new servicebus.Namespace(
    `${name}-namespace`,
    applyTransform(transform, {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      namespaceName: namespaceName ?? derivedNamespaceName(name),
      sku: {
        name: tier,
        tier,
        ...(tier === "Premium" ? { capacity: messagingUnits ?? DEFAULTS.namespace.messagingUnits } : {}),
      },
      // Entra ID (RBAC) only unless asked: no keys to leak or rotate.
      disableLocalAuth: !(allowLocalAuth ?? DEFAULTS.namespace.allowLocalAuth),
      minimumTlsVersion: "1.2",
    }),
    // A derived name changes with the project or stack name; the one in the state stays.
    { ...opts, ...(namespaceName ? {} : stableNameOptions("namespaceName")) },
  );
  return {
    resource: namespace,
    name: namespace.name,
    resourceGroupName: pulumi.output(args.resourceGroupName),
    id: namespace.id,
    fullyQualifiedNamespace: namespace.serviceBusEndpoint.apply(hostOf),
  };
}

/**
 * The host name of an existing namespace, checked when Pulumi looks it up: its tier is only known
 * then, so a Basic namespace fails the deployment here with the fix, not later at the first send.
 */
export function existingNamespaceHost(
  owner: string,
  found: Pick<servicebus.GetNamespaceResult, "name" | "sku" | "serviceBusEndpoint">,
): string {
  if (found.sku?.name === "Basic") {
    throw new InvalidArgumentsError(owner, [
      {
        argument: "namespace.existing",
        value: found.name,
        fix: "is Basic tier; duplicate detection and auto-forwarding need a Standard or Premium namespace.",
      },
    ]);
  }
  return hostOf(found.serviceBusEndpoint);
}

/** A globally unique, valid namespace name derived from the component name. */
function derivedNamespaceName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^[^a-z]+/, "");
  const prefix = (cleaned || "dedup").slice(0, 41).replace(/-+$/, "");
  return `${prefix}-${uniqueSuffix(`${name}-namespace`)}`;
}

/** The host name of a namespace's endpoint, once Service Bus reports it. */
function hostOf(endpoint: string | undefined): string {
  return whenReported([endpoint], (reported) => new URL(reported).hostname);
}
