/**
 * The one shape of every Azure alert the library creates: fires when a count is above zero, checked
 * every 5 minutes, resolves itself, severity 2 (warning), notifying the component's `alarmActions`.
 */
import * as monitor from "@pulumi/azure-native/monitor";
import * as pulumi from "@pulumi/pulumi";

/** One metric of one resource, and which of its dimension values count. */
export interface CountAboveZero {
  /** The alert rule's resource group. */
  resourceGroupName: pulumi.Input<string>;
  /** Starts with the owner label: `FanOutIngest "ids": ...`. */
  description: string;
  /** The one resource whose metric is watched. */
  scope: pulumi.Input<string>;
  /** The criterion's name, unique within the rule. */
  criterionName: string;
  metricNamespace: string;
  metricName: string;
  /** How the metric's values in a window combine: a running gauge takes `Maximum`, events `Total`. */
  timeAggregation: "Maximum" | "Total";
  /** Only these values of the dimension count (an entity, a subscription): other users of the resource do not. */
  dimension: { name: string; values: pulumi.Input<pulumi.Input<string>[]> };
  /** Action group ids to notify. */
  alarmActions: pulumi.Input<pulumi.Input<string>[]>;
}

/** A metric alert that fires while the metric's count is above zero. */
export function countAboveZeroAlertArgs(alert: CountAboveZero): monitor.MetricAlertArgs {
  return {
    resourceGroupName: alert.resourceGroupName,
    location: "global",
    description: alert.description,
    severity: 2,
    enabled: true,
    scopes: [alert.scope],
    evaluationFrequency: "PT5M",
    windowSize: "PT5M",
    autoMitigate: true,
    criteria: {
      odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
      allOf: [
        {
          criterionType: "StaticThresholdCriterion",
          name: alert.criterionName,
          metricNamespace: alert.metricNamespace,
          metricName: alert.metricName,
          dimensions: [{ name: alert.dimension.name, operator: "Include", values: alert.dimension.values }],
          operator: "GreaterThan",
          threshold: 0,
          timeAggregation: alert.timeAggregation,
        },
      ],
    },
    actions: alertActions(alert.alarmActions),
  };
}

/** Action group ids as a metric alert's `actions`. */
export function alertActions(alarmActions: pulumi.Input<pulumi.Input<string>[]>): monitor.MetricAlertArgs["actions"] {
  return pulumi.output(alarmActions).apply((ids) => ids.map((actionGroupId) => ({ actionGroupId })));
}
