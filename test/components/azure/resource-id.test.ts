import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkActionGroupIds, isActionGroupId } from "../../../components/azure/resource-id";
import { ArgumentChecker } from "../../../components/core/validation";

// https://learn.microsoft.com/en-us/rest/api/monitor/action-groups/get: the id's form.
describe("isActionGroupId", () => {
  for (const [input, expected] of [
    [
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call",
      true,
    ],
    // ARM compares segment names without case and reports "microsoft.insights" in lower case.
    ["/subscriptions/s/resourcegroups/ops/providers/microsoft.insights/actiongroups/on-call", true],
    ["/subscriptions/s/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/", false],
    ["/subscriptions/s/resourceGroups/ops/providers/Microsoft.Insights/metricAlerts/dlq", false],
    ["/subscriptions/s/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call/extra", false],
    ["on-call", false],
    ["arn:aws:sns:us-east-1:123456789012:on-call", false],
  ] as const) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => {
      assert.equal(isActionGroupId(input), expected);
    });
  }
});

describe("checkActionGroupIds", () => {
  it("names each entry that is not an action group id by its index, and leaves unknown entries alone", () => {
    const checker = new ArgumentChecker("test");
    checkActionGroupIds(checker, [
      "/subscriptions/s/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call",
      "on-call",
      { apply: () => undefined },
    ]);
    assert.deepEqual(
      checker.list().map((problem) => [problem.argument, problem.value]),
      [["alarmActions[1]", "on-call"]],
    );
  });

  it("leaves a list still unknown at preview to ARM", () => {
    const checker = new ArgumentChecker("test");
    checkActionGroupIds(checker, undefined);
    assert.deepEqual(checker.list(), []);
  });
});
