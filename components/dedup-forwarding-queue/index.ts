/**
 * DedupForwardingQueue: event-driven "batch" processing, one run per data set per period.
 *
 * Every observation of a data set schedules a Service Bus message for the end of its period, with
 * MessageId = SessionId = `<dataSetId>-<period>`, into a processing queue whose duplicate-detection
 * window covers the whole period: scheduled messages are deduplicated when they are sent, so only
 * the first observation's message survives. When it materializes, the processing queue forwards it
 * to the session-enabled work queue, where a Function App runs the inline `process` callback.
 * One processing queue per period length (`windows`), all forwarding to the one work queue.
 */
import * as monitor from "@pulumi/azure-native/monitor";
import * as servicebus from "@pulumi/azure-native/servicebus";
import * as pulumi from "@pulumi/pulumi";
import type * as runtime from "../../runtime/dedup-forwarding-queue";
import type { ProcessorOptions } from "../../runtime/dedup-forwarding-queue/contract";
import { isoDuration, timeSpan } from "../../runtime/dedup-forwarding-queue/duration";
import type { ProcessingScheduleConfig } from "../../runtime/dedup-forwarding-queue/producer";
import { countAboveZeroAlertArgs } from "../azure/alerts";
import { FunctionApp } from "../azure/function-app";
import { nonSecretAppSettings } from "../azure/app-settings";
import type { RoleGrant } from "../azure/roles";
import { runtimeEntry } from "../core/artifact";
import { PatternComponent } from "../core/component";
import { usesExisting } from "../core/existing";
import { stableNameOptions } from "../core/naming";
import { runtimeFactory } from "../core/runtime-factory";
import { applyTransform, type Transform } from "../core/transform";
import type { DedupForwardingQueueArgs, DedupForwardingQueueTransform } from "./args";
import { type DeclaredNamespace, declareNamespace } from "./namespace";
import { grantAppOwner, grantProducerSender, producerPrincipal } from "./policies";
import { dedupForwardingQueueSettings, type DedupForwardingQueueSettings, FIXED_QUEUE_PROPERTIES } from "./settings";

export type {
  DedupForwardingQueueArgs,
  DedupForwardingQueueTransform,
  ExistingServiceBusNamespace,
  ProducerPrincipal,
  ServiceBusNamespaceSettings,
} from "./args";
export { existingNamespaceHost } from "./namespace";
export {
  dedupForwardingQueueSettings,
  type DedupForwardingQueueSettings,
  validateDedupForwardingQueueArgs,
  type WindowSettings,
} from "./settings";
export type {
  ProcessCallback,
  ProcessingMessageInfo,
  ProcessingRun,
} from "../../runtime/dedup-forwarding-queue/contract";
export type { ProcessingScheduleConfig } from "../../runtime/dedup-forwarding-queue/producer";

const PROCESSOR = runtimeFactory<typeof runtime>(require.resolve("../../runtime/dedup-forwarding-queue"))(
  "createProcessor",
);

/** The app setting prefix of the trigger's identity-based connection: `ServiceBus__fullyQualifiedNamespace`. */
export const SERVICE_BUS_CONNECTION = "ServiceBus";
/** The name of the function the Function App registers. */
export const PROCESSOR_FUNCTION_NAME = "process";

/** What producers need: pass it (as JSON) to `ProcessingScheduler` in `runtime/dedup-forwarding-queue/producer`. */
export function producerConfigOf(settings: DedupForwardingQueueSettings): ProcessingScheduleConfig {
  return {
    timeZone: settings.timeZone,
    scheduleDelaySeconds: settings.scheduleDelaySeconds,
    windows: Object.fromEntries(
      settings.windows.map((w) => [
        w.name,
        { queueName: w.queueName, periodSeconds: w.periodSeconds, duplicateWindowSeconds: w.duplicateWindowSeconds },
      ]),
    ),
  };
}

/** The runtime the Function App's artifact starts from, for building it outside a Pulumi program too. */
export function processorEntry(settings: DedupForwardingQueueSettings) {
  const options: ProcessorOptions = {
    functionName: PROCESSOR_FUNCTION_NAME,
    queueName: settings.workQueueName,
    connection: SERVICE_BUS_CONNECTION,
    maxDeliveryCount: settings.maxDeliveryCount,
    windows: settings.windows.map((w) => w.name),
  };
  return runtimeEntry(PROCESSOR, options);
}

/** host.json `extensions.serviceBus`: one message per session at a time, completed on success. */
export function processorHostExtensions(settings: DedupForwardingQueueSettings): Record<string, unknown> {
  return {
    serviceBus: {
      autoCompleteMessages: true,
      maxConcurrentSessions: settings.maxConcurrentSessions,
      sessionIdleTimeout: timeSpan(settings.sessionIdleTimeoutSeconds),
      // Flex Consumption's default function timeout is 30 minutes; keep the session locked that long.
      maxAutoLockRenewalDuration: timeSpan(30 * 60),
    },
  };
}

/**
 * Per-window processing queues with long duplicate detection, auto-forwarding into a
 * session-enabled work queue consumed by a Function App that runs `process` once per data set and period.
 */
export class DedupForwardingQueue extends PatternComponent {
  /** The created namespace; undefined with `namespace.existing`. */
  readonly namespace?: servicebus.Namespace;
  readonly workQueue: servicebus.Queue;
  /** The processing queues by window name. */
  readonly processingQueues: Record<string, servicebus.Queue>;
  readonly functionApp: FunctionApp;
  /** The name of the Function App that runs `process`. */
  readonly functionAppName: pulumi.Output<string>;
  /**
   * The object id of the Function App's system-assigned identity, which `process` runs as: grant it
   * what `process` uses (or pass `function.permissions`), e.g. a Cosmos DB SQL role assignment.
   */
  readonly functionPrincipalId: pulumi.Output<string>;
  /** Fires when a queue of the component holds dead-lettered messages. */
  readonly alarm: monitor.MetricAlert;
  /** The host name producers and the trigger connect to, e.g. `name.servicebus.windows.net`. */
  readonly fullyQualifiedNamespace: pulumi.Output<string>;
  readonly namespaceId: pulumi.Output<string>;
  readonly workQueueName: string;
  /** Processing queue names by window name. */
  readonly processingQueueNames: Record<string, string>;
  /** Processing queue resource ids by window name: scopes for granting producers "Azure Service Bus Data Sender". */
  readonly processingQueueIds: Record<string, pulumi.Output<string>>;
  /** Everything a producer needs, as plain JSON for its configuration: pass it to `ProcessingScheduler`. */
  readonly producerConfig: pulumi.Output<ProcessingScheduleConfig & { fullyQualifiedNamespace: string }>;
  /** The resolved settings (periods, windows, defaults applied). */
  readonly settings: DedupForwardingQueueSettings;
  private readonly componentName: string;

  constructor(name: string, args: DedupForwardingQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    const { settings, problems } = dedupForwardingQueueSettings(name, args);
    super("azure", "DedupForwardingQueue", name, problems, opts);
    this.componentName = name;
    this.settings = settings;
    const transform = args.transform ?? {};

    const namespace = declareNamespace(name, this.owner, args, transform.namespace, this.child);
    this.namespace = namespace.resource;
    this.fullyQualifiedNamespace = namespace.fullyQualifiedNamespace;
    this.namespaceId = namespace.id;

    // Queue names in a shared namespace carry the project/stack suffix; the ones in the state stay.
    const queueOptions = usesExisting(args.namespace)
      ? { ...this.child, ...stableNameOptions("queueName") }
      : this.child;
    this.workQueue = this.createWorkQueue(name, namespace, transform.workQueue, queueOptions);
    this.workQueueName = settings.workQueueName;
    this.processingQueues = this.createProcessingQueues(name, namespace, transform.processingQueue, queueOptions);
    this.processingQueueNames = Object.fromEntries(settings.windows.map((w) => [w.name, w.queueName]));
    this.processingQueueIds = Object.fromEntries(
      Object.entries(this.processingQueues).map(([window, queue]) => [window, queue.id]),
    );

    this.functionApp = this.createFunctionApp(name, args);
    this.functionAppName = this.functionApp.name;
    this.functionPrincipalId = this.functionApp.principalId;
    grantAppOwner(name, this.functionPrincipalId, this.workQueue, this.child);
    for (const [producer, principal] of Object.entries(args.producerPrincipalIds ?? {})) {
      const { principalId, principalType } = producerPrincipal(principal);
      this.grantProducer(producer, principalId, principalType);
    }

    this.alarm = this.createDeadLetterAlarm(name, args, namespace, transform.alarm);

    this.producerConfig = this.fullyQualifiedNamespace.apply((fullyQualifiedNamespace) => ({
      fullyQualifiedNamespace,
      ...producerConfigOf(settings),
    }));
    this.registerOutputsOf(
      "functionAppName",
      "functionPrincipalId",
      "fullyQualifiedNamespace",
      "namespaceId",
      "workQueueName",
      "processingQueueNames",
      "processingQueueIds",
      "producerConfig",
    );
  }

  /**
   * Lets an identity schedule observations: "Azure Service Bus Data Sender" on every processing
   * queue (and nothing else). `name` must be unique per component; it names the role assignments.
   */
  grantProducer(
    name: string,
    principalId: pulumi.Input<string>,
    principalType: RoleGrant["principalType"] = "ServicePrincipal",
  ): ReturnType<typeof grantProducerSender> {
    return grantProducerSender(
      this.componentName,
      name,
      { principalId, principalType },
      this.processingQueues,
      this.child,
    );
  }

  /** The session-enabled queue the Function App consumes, one run per data set and period. */
  private createWorkQueue(
    name: string,
    namespace: DeclaredNamespace,
    transform: Transform<servicebus.QueueArgs> | undefined,
    opts: pulumi.CustomResourceOptions,
  ): servicebus.Queue {
    const { settings } = this;
    return new servicebus.Queue(
      `${name}-work`,
      applyTransform(transform, {
        resourceGroupName: namespace.resourceGroupName,
        namespaceName: namespace.name,
        queueName: settings.workQueueName,
        ...FIXED_QUEUE_PROPERTIES.workQueue,
        duplicateDetectionHistoryTimeWindow: isoDuration(settings.workQueueDuplicateWindowSeconds),
        deadLetteringOnMessageExpiration: true,
        defaultMessageTimeToLive: isoDuration(settings.messageRetentionSeconds),
        maxDeliveryCount: settings.maxDeliveryCount,
        lockDuration: isoDuration(settings.lockDurationSeconds),
      }),
      opts,
    );
  }

  /** One processing queue per window, each forwarding to the work queue. */
  private createProcessingQueues(
    name: string,
    namespace: DeclaredNamespace,
    transform: DedupForwardingQueueTransform["processingQueue"],
    opts: pulumi.CustomResourceOptions,
  ): Record<string, servicebus.Queue> {
    const queues: Record<string, servicebus.Queue> = {};
    for (const window of this.settings.windows) {
      const queueArgs: servicebus.QueueArgs = {
        resourceGroupName: namespace.resourceGroupName,
        namespaceName: namespace.name,
        queueName: window.queueName,
        // Scheduled messages are deduplicated when sent, so the window must span the whole period.
        ...FIXED_QUEUE_PROPERTIES.processingQueue,
        duplicateDetectionHistoryTimeWindow: isoDuration(window.duplicateWindowSeconds),
        // The work queue's name output: the destination must exist before a queue forwards to it.
        forwardTo: this.workQueue.name,
        deadLetteringOnMessageExpiration: true,
      };
      queues[window.name] = new servicebus.Queue(
        `${name}-processing-${window.name}`,
        transform ? transform(queueArgs, window.name) : queueArgs,
        opts,
      );
    }
    return queues;
  }

  /** The Function App that runs `process`, connected to the namespace by its identity. */
  private createFunctionApp(name: string, args: DedupForwardingQueueArgs): FunctionApp {
    return new FunctionApp(
      `${name}-fn`,
      {
        owner: this.owner,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        entry: processorEntry(this.settings),
        callbacks: { process: args.process },
        functionNames: [PROCESSOR_FUNCTION_NAME],
        hostExtensions: processorHostExtensions(this.settings),
        environment: pulumi
          .all([
            nonSecretAppSettings(this.owner, args.environment ?? {}, "function.permissions"),
            this.fullyQualifiedNamespace,
          ])
          .apply(([environment, fullyQualifiedNamespace]) => ({
            ...environment,
            [`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`]: fullyQualifiedNamespace,
          })),
        ...args.function,
        transform: args.transform?.function,
        transformArgument: "transform.function",
      },
      this.child,
    );
  }

  /** Fires while any queue of the component holds dead-lettered messages. */
  private createDeadLetterAlarm(
    name: string,
    args: DedupForwardingQueueArgs,
    namespace: DeclaredNamespace,
    transform: Transform<monitor.MetricAlertArgs> | undefined,
  ): monitor.MetricAlert {
    return new monitor.MetricAlert(
      `${name}-dead-letters`,
      applyTransform(
        transform,
        countAboveZeroAlertArgs({
          resourceGroupName: args.resourceGroupName,
          description: `${this.owner}: dead-lettered messages: failed runs (work queue) or messages a processing queue could not forward.`,
          scope: namespace.id,
          criterionName: "dead-lettered",
          metricNamespace: "Microsoft.ServiceBus/namespaces",
          metricName: "DeadletteredMessages",
          timeAggregation: "Maximum",
          dimension: {
            name: "EntityName",
            values: [this.settings.workQueueName, ...this.settings.windows.map((w) => w.queueName)],
          },
          alarmActions: args.alarmActions ?? [],
        }),
      ),
      this.child,
    );
  }
}
