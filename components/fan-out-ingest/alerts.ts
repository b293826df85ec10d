/**
 * FanOutIngest's alarms, one per way a run, an event or an item ends outside the target queues:
 * two Event Grid metric alerts on the subscription, and two log search alerts on the Function App's
 * Application Insights, where the failures that no metric tells apart are seen.
 */
import * as monitor from "@pulumi/azure-native/monitor";
import * as pulumi from "@pulumi/pulumi";
import { countAboveZeroAlertArgs } from "../azure/alerts";
import { FUNCTION_NAMES } from "../../runtime/fan-out-ingest/contract";

/**
 * The Application Insights query of the poison alarm: the warnings the Function App logs when
 * something lands in a poison queue. The host moves an event that failed five times ("Message has
 * reached MaxDequeueCount of 5. Moving message to queue '<queue>-poison'.", a warning of the
 * WebJobs queue processor, `QueueProcessor.CopyMessageToPoisonQueueAsync`); the ingestion function
 * warns when it rejects an event ("event rejected to ...") or poisons items ("... 1 poisoned, ...").
 * Storage queue metrics have no per-queue dimension, so no metric alert can tell a poison queue
 * from a target queue.
 */
export const POISON_LOG_QUERY = [
  "traces",
  "| where severityLevel == 2",
  '| where message has "Moving message to queue" or message startswith "event rejected to " or message matches regex @"[1-9][0-9]* poisoned"',
].join("\n");

/**
 * The Application Insights query of the failed-run alarm: invocations of the chunking functions
 * that failed. A timer run that fails is not retried, and the HTTP function answers 500 with the
 * run id to resume.
 */
export const FAILED_RUN_QUERY = [
  "requests",
  `| where operation_Name in ("${FUNCTION_NAMES.chunk}", "${FUNCTION_NAMES.chunkOnSchedule}")`,
  "| where success == false or toint(resultCode) >= 500",
].join("\n");

/** FanOutIngest's alarms, one per way a run, an event or an item ends outside the target queues. */
export interface FanOutAlarms {
  /** Event Grid dead-lettered BlobCreated events (`DeadLetteredCount` of this subscription). */
  deadLetteredEvents: monitor.MetricAlert;
  /** Event Grid dropped events it could not dead-letter either (`DroppedEventCount`). */
  droppedEvents: monitor.MetricAlert;
  /** Events or items went to a poison queue (a log search alert on the app's Application Insights). */
  poisoned: monitor.ScheduledQueryRule;
  /** A run failed: the source threw or the chunks could not be written (a log search alert). */
  failedRuns: monitor.ScheduledQueryRule;
}

/** What the alarms watch and whom they notify. */
export interface WatchedFanOut {
  /** The component's name, which prefixes the alarms' names. */
  name: string;
  /** The component's owner label, which starts every alarm's description. */
  owner: string;
  resourceGroupName: pulumi.Input<string>;
  /** The system topic whose metrics count this component's events. */
  topicId: pulumi.Input<string>;
  /** This component's subscription: an existing topic can have others. */
  subscriptionName: pulumi.Input<string>;
  /** The Function App's Application Insights. */
  appInsights: { id: pulumi.Input<string>; location: pulumi.Input<string> };
  deadLetterContainerName: string;
  /** Every poison queue: the events queue's and the target queues'. */
  poisonQueueNames: string[];
  alarmActions: pulumi.Input<pulumi.Input<string>[]>;
}

export function createAlarms(watched: WatchedFanOut, opts: pulumi.CustomResourceOptions): FanOutAlarms {
  const { name, owner, resourceGroupName } = watched;
  const eventAlarm = (alarmName: string, metricName: string, what: string) =>
    new monitor.MetricAlert(
      `${name}-${alarmName}`,
      countAboveZeroAlertArgs({
        resourceGroupName,
        description: `${owner}: ${what}`,
        scope: watched.topicId,
        criterionName: alarmName,
        metricNamespace: "Microsoft.EventGrid/systemTopics",
        metricName,
        timeAggregation: "Total",
        dimension: { name: "EventSubscriptionName", values: [watched.subscriptionName] },
        alarmActions: watched.alarmActions,
      }),
      opts,
    );
  // A log search alert on the app's Application Insights: storage queue metrics have no
  // per-queue dimension, and a failed run is seen only in the app's telemetry.
  const logAlarm = (alarmName: string, query: string, what: string) =>
    new monitor.ScheduledQueryRule(
      `${name}-${alarmName}`,
      {
        resourceGroupName,
        location: watched.appInsights.location,
        kind: "LogAlert",
        description: `${owner}: ${what}`,
        severity: 2,
        enabled: true,
        scopes: [watched.appInsights.id],
        evaluationFrequency: "PT5M",
        windowSize: "PT15M",
        autoMitigate: true,
        criteria: {
          allOf: [
            {
              query,
              timeAggregation: "Count",
              operator: "GreaterThan",
              threshold: 0,
              failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
            },
          ],
        },
        actions: { actionGroups: pulumi.output(watched.alarmActions) },
      },
      opts,
    );
  return {
    deadLetteredEvents: eventAlarm(
      "dead-lettered-events",
      "DeadLetteredCount",
      `Event Grid dead-lettered BlobCreated events into ${watched.deadLetterContainerName}: their chunks were not ingested.`,
    ),
    droppedEvents: eventAlarm(
      "dropped-events",
      "DroppedEventCount",
      "Event Grid dropped BlobCreated events it could neither deliver nor dead-letter: their chunks were not ingested.",
    ),
    poisoned: logAlarm(
      "poisoned",
      POISON_LOG_QUERY,
      `events or items went to a poison queue (${watched.poisonQueueNames.join(", ")}).`,
    ),
    failedRuns: logAlarm(
      "failed-runs",
      FAILED_RUN_QUERY,
      "a run failed (the source threw or chunks could not be written); resume it with POST /api/runs?runId=<id>.",
    ),
  };
}
