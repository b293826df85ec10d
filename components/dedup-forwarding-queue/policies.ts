/**
 * The Azure roles DedupForwardingQueue grants: its app owns the work queue, and each producer may
 * send to every processing queue and to nothing else.
 */
import type * as servicebus from "@pulumi/azure-native/servicebus";
import type * as pulumi from "@pulumi/pulumi";
import { grantRole, type RoleGrant } from "../azure/roles";
import type { ProducerPrincipal } from "./args";

/**
 * A `producerPrincipalIds` entry as a principal id and type; `typed` tells whether it was given as
 * `{ principalId, principalType }`, so its messages name `.principalId`.
 */
export function producerPrincipal(principal: ProducerPrincipal): {
  principalId: pulumi.Input<string>;
  principalType?: RoleGrant["principalType"];
  typed: boolean;
} {
  if (typeof principal === "object" && principal !== null && "principalId" in principal) {
    return { principalId: principal.principalId, principalType: principal.principalType, typed: true };
  }
  return { principalId: principal, typed: false };
}

/**
 * The trigger receives, and the scale controller reads the queue's message and session counts:
 * that takes Manage rights, which with Entra ID only "Azure Service Bus Data Owner" gives; with
 * Data Receiver alone the extension falls back to peeking and the app scales late or not from
 * zero (https://learn.microsoft.com/azure/azure-functions/event-driven-scaling, "Manage rights";
 * functions-bindings-service-bus: Data Receiver or Data Owner for triggers; azure-functions-host
 * #8261, #7921). Owner includes receiving, so it is the app's only role, on the work queue only.
 */
export function grantAppOwner(
  name: string,
  principalId: pulumi.Input<string>,
  workQueue: servicebus.Queue,
  opts: pulumi.CustomResourceOptions,
): ReturnType<typeof grantRole> {
  return grantRole(
    `${name}-app-owner`,
    { principalId, role: "Azure Service Bus Data Owner", scope: workQueue.id },
    opts,
  );
}

/** "Azure Service Bus Data Sender" on every processing queue, named by the component and the producer. */
export function grantProducerSender(
  componentName: string,
  producer: string,
  grant: Pick<RoleGrant, "principalId" | "principalType">,
  processingQueues: Record<string, servicebus.Queue>,
  opts: pulumi.CustomResourceOptions,
): ReturnType<typeof grantRole>[] {
  return Object.entries(processingQueues).map(([window, queue]) =>
    grantRole(
      `${componentName}-producer-${producer}-${window}`,
      { ...grant, role: "Azure Service Bus Data Sender", scope: queue.id },
      opts,
    ),
  );
}
