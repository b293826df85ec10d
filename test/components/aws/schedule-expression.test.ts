import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scheduleExpressionProblem } from "../../../components/aws/schedule-expression";

// Rows follow EventBridge Scheduler's expression grammar:
// https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
describe("scheduleExpressionProblem", () => {
  const valid: string[] = [
    "cron(0 9 * * ? *)",
    "cron(0/15 8-17 ? * MON-FRI *)",
    "cron(30 6 L * ? 2025-2030)",
    "cron(0 12 ? * 6#3 *)",
    "cron(0 0 1,15 JAN,JUL ? *)",
    "cron(0 10 ? * 2L *)",
    "cron(0 8 15W * ? *)",
    "cron(0 18 L-3 * ? *)",
    "rate(1 minute)",
    "rate(15 minutes)",
    "rate(1 hour)",
    "rate(2 days)",
  ];
  for (const expression of valid) {
    it(`accepts ${expression}`, () => {
      assert.equal(scheduleExpressionProblem(expression), undefined);
    });
  }

  const invalid: [expression: string, problem: string][] = [
    [
      "cron(0 9 * * *)",
      "a cron has 6 fields (minutes hours day-of-month month day-of-week year), got 5; " +
        'e.g. "cron(0 9 ? * MON-FRI *)" is 09:00 on weekdays',
    ],
    [
      "cron(0 9 * * * *)",
      'exactly one of day-of-month and day-of-week must be "?", e.g. "cron(0 9 * * ? *)" for every day',
    ],
    [
      "cron(0 9 ? * ? *)",
      'exactly one of day-of-month and day-of-week must be "?", e.g. "cron(0 9 * * ? *)" for every day',
    ],
    ["cron(61 9 * * ? *)", 'minutes "61" has 61, outside 0..59'],
    ["cron(0 24 * * ? *)", 'hours "24" has 24, outside 0..23'],
    ["cron(0 9 32W * ? *)", 'day-of-month "32W" names 32, outside 1..31'],
    ["cron(0 9 1 JNU ? *)", 'month "JNU" has JNU, outside 1..12 or JAN..DEC'],
    ["cron(0 9 ? * 8 *)", 'day-of-week "8" has 8, outside 1..7 or SUN..SAT'],
    ["cron(0 9 * * ? 1969)", 'year "1969" has 1969, outside 1970..2199'],
    ["cron(0/0 9 * * ? *)", 'minutes "0/0" steps by 0'],
    ["cron(0 9 1..3 * ? *)", 'day-of-month "1..3" is not a value, range, list or step'],
    ["rate(1 week)", 'a rate is "rate(<positive whole number> <minute(s)|hour(s)|day(s)>)", e.g. "rate(6 hours)"'],
    ["rate(0 minutes)", 'a rate is "rate(<positive whole number> <minute(s)|hour(s)|day(s)>)", e.g. "rate(6 hours)"'],
    ["rate(1.5 hours)", 'a rate is "rate(<positive whole number> <minute(s)|hour(s)|day(s)>)", e.g. "rate(6 hours)"'],
    ["at(2025-03-25T09:00:00)", 'use "cron(<6 fields>)" or "rate(<value> <unit>)"'],
    ["0 9 * * ? *", 'use "cron(<6 fields>)" or "rate(<value> <unit>)"'],
  ];
  for (const [expression, problem] of invalid) {
    it(`rejects ${expression}: ${problem}`, () => {
      assert.equal(scheduleExpressionProblem(expression), problem);
    });
  }
});
