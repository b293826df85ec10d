/**
 * Azure resource ids the components take as arguments. An id is
 * `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{namespace}/{type}/{name}`,
 * its segment names compared without case
 * (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules,
 * https://learn.microsoft.com/en-us/rest/api/monitor/action-groups/get).
 */
import type { ArgumentChecker } from "../core/validation";

/** An action group: `/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Insights/actionGroups/<name>`. */
export function isActionGroupId(value: string): boolean {
  return /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/microsoft\.insights\/actionGroups\/[^/]+$/i.test(
    value,
  );
}

/**
 * Records a problem for each known entry of an `alarmActions` argument that is not an action group
 * id: an Azure Monitor alert notifies action groups. Entries still unknown at preview are left to ARM.
 */
export function checkActionGroupIds(checker: ArgumentChecker, alarmActions: unknown): void {
  if (!Array.isArray(alarmActions)) return;
  alarmActions.forEach((action: unknown, i) => {
    if (typeof action === "string") {
      checker.check(
        isActionGroupId(action),
        `alarmActions[${i}]`,
        action,
        "is not an action group id; Azure Monitor alerts notify action groups, e.g. " +
          '"/subscriptions/<id>/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call" (an action group\'s id output).',
      );
    }
  });
}

/**
 * Records a problem when a known resource group name is not one: 1..90 letters, digits, `_`, `-`,
 * `.` and parentheses, not ending in `.`
 * (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftresources).
 * An Output is left to ARM.
 */
export function checkResourceGroupName(
  checker: ArgumentChecker,
  argument: string,
  name: unknown,
  otherwise = "",
): void {
  if (typeof name !== "string") return;
  checker.check(
    /^[\p{L}\p{N}_().-]{1,90}$/u.test(name) && !name.endsWith("."),
    argument,
    name,
    "is not a resource group name; give an existing group's name (1..90 letters, digits, _, -, . and parentheses, " +
      `not ending in .), e.g. a ResourceGroup's name output${otherwise}.`,
  );
}
