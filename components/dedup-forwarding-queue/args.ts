/**
 * DedupForwardingQueue's arguments, as users write them and the docs tables show them, and the
 * defaults the settings step applies to them.
 */
import type * as monitor from "@pulumi/azure-native/monitor";
import type * as servicebus from "@pulumi/azure-native/servicebus";
import type * as pulumi from "@pulumi/pulumi";
import type { ProcessCallback } from "../../runtime/dedup-forwarding-queue/contract";
import { DAY_SECONDS } from "../../runtime/dedup-forwarding-queue/period";
import type { FunctionAppSettings, FunctionAppTransform } from "../azure/function-app";
import type { RoleGrant } from "../azure/roles";
import type { CreateOrUse } from "../core/existing";
import type { Transform } from "../core/transform";

/** An identity allowed to schedule observations: an object id, or one with its principal type. */
export type ProducerPrincipal =
  pulumi.Input<string> | { principalId: pulumi.Input<string>; principalType: NonNullable<RoleGrant["principalType"]> };

/** The settings of the Service Bus namespace the component creates. */
export interface ServiceBusNamespaceSettings {
  /** The namespace's name (6..50 letters, digits, hyphens; globally unique). @default derived from the component name */
  name?: string;
  /** Its tier; Basic has neither duplicate detection nor auto-forwarding. @default "Standard" */
  tier?: "Standard" | "Premium";
  /** Messaging units of a Premium namespace (1, 2, 4, 8 or 16). @default 1 */
  messagingUnits?: number;
  /** Keep SAS (shared key) authentication on. @default false: Entra ID only */
  allowLocalAuth?: boolean;
}

/** An existing Standard or Premium namespace the component puts its queues in. */
export interface ExistingServiceBusNamespace {
  name: pulumi.Input<string>;
  /** @default the component's `resourceGroupName` */
  resourceGroupName?: pulumi.Input<string>;
}

export interface DedupForwardingQueueArgs {
  resourceGroupName: pulumi.Input<string>;
  /** @default the resource group's location */
  location?: pulumi.Input<string>;
  /**
   * The periods to deduplicate over, one processing queue each: their lengths in seconds, by name.
   * Under a day a length must divide 24 hours; from a day on it must be whole days, at most 7 days
   * (604800).
   * @example { daily: 86_400, twoHourly: 7_200 }
   */
  windows: Record<string, number>;
  /**
   * Runs once per data set and period. Returning completes the message; throwing abandons it, and
   * after `maxDeliveryCount` deliveries Service Bus dead-letters it.
   * @example async ({ dataSetId, period, periodStart, periodEnd }) => { await summarize(dataSetId, periodStart, periodEnd); }
   */
  process: ProcessCallback;
  /**
   * Non-secret settings `process` reads from `process.env`, as app settings. The component's own
   * setting (`ServiceBus__fullyQualifiedNamespace`) wins over one of the same name.
   * @example { REPORTS_URL: "https://reports.example.com" }
   */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The IANA time zone whose wall clock the periods follow (a day = the local calendar day). A
   * zone name, not a UTC offset such as "+01:00" (see runtime/shared/time-zone.ts); a fixed offset
   * is a name too ("Etc/GMT-1" is UTC+01:00).
   * @default "UTC"
   * @example "Europe/London"
   */
  timeZone?: string;
  /**
   * How long after the end of a period its run starts: slack for producers that report late.
   * @default 300
   */
  scheduleDelaySeconds?: number;
  /**
   * The Service Bus namespace: settings for the one the component creates, or `{ existing }` to use
   * a Standard or Premium namespace that exists.
   * @default a Standard namespace with Entra ID authentication only
   * @example { existing: { name: "shared-bus", resourceGroupName: "messaging" } }
   */
  namespace?: CreateOrUse<ServiceBusNamespaceSettings, ExistingServiceBusNamespace>;
  /** The work queue's duplicate-detection window, for accidental resends. @default 600 */
  workQueueDuplicateWindowSeconds?: number;
  /** Deliveries of a run before Service Bus dead-letters it. @default 10 */
  maxDeliveryCount?: number;
  /** How long a run may wait in the work queue before it expires into the dead-letter queue. @default 1209600 (14 days) */
  messageRetentionSeconds?: number;
  /** The work queue's peek-lock duration; the Functions host renews it while `process` runs. @default 60 */
  lockDurationSeconds?: number;
  /** Sessions (runs) one instance processes at once (host.json `maxConcurrentSessions`). @default 8 */
  maxConcurrentSessions?: number;
  /** How long the host waits for another message in a session before taking the next one. @default 10 */
  sessionIdleTimeoutSeconds?: number;
  /**
   * Identities allowed to schedule observations: "Azure Service Bus Data Sender" on every processing
   * queue, by a stable name (it names the role assignments). More can be added with `grantProducer`.
   * @example { ingest: ingestApp.principalId, analyst: { principalId: "<object id>", principalType: "User" } }
   */
  producerPrincipalIds?: Record<string, ProducerPrincipal>;
  /** Action group resource ids the alarm notifies when a queue of the component holds dead-lettered messages. */
  alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Settings of the Function App that runs `process`, including `permissions`: the Azure roles
   * `process` needs on resources of its own, granted to the app's identity (see also
   * `functionPrincipalId`).
   * @example { permissions: { reports: { role: "Storage Blob Data Contributor", scope: reports.id } } }
   */
  function?: FunctionAppSettings;
  /** Escape hatches: change what the component did not foresee. */
  transform?: {
    namespace?: Transform<servicebus.NamespaceArgs>;
    workQueue?: Transform<servicebus.QueueArgs>;
    /** Called once per window with its name. */
    processingQueue?: (args: servicebus.QueueArgs, window: string) => servicebus.QueueArgs;
    alarm?: Transform<monitor.MetricAlertArgs>;
    function?: FunctionAppTransform;
  };
}

/** The escape hatches of `DedupForwardingQueueArgs`, by child resource. */
export type DedupForwardingQueueTransform = NonNullable<DedupForwardingQueueArgs["transform"]>;

/** The defaults of the arguments above, each the value its `@default` names. */
export const DEFAULTS = {
  timeZone: "UTC",
  scheduleDelaySeconds: 300,
  workQueueDuplicateWindowSeconds: 600,
  maxDeliveryCount: 10,
  messageRetentionSeconds: 14 * DAY_SECONDS,
  lockDurationSeconds: 60,
  maxConcurrentSessions: 8,
  sessionIdleTimeoutSeconds: 10,
  namespace: { tier: "Standard", messagingUnits: 1, allowLocalAuth: false },
} as const;
