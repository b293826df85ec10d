import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ArgumentChecker } from "../../../components/validation";
import { durationArgument } from "../../../components/validators/duration";

const HOUR = 3600;
const DAY = 86_400;
/** Service Bus duplicate detection: 20 seconds to 7 days. */
const DUPLICATE_WINDOW = { min: 20, max: 7 * DAY, rule: "Service Bus duplicate detection allows" };

describe("durationArgument", () => {
  const rows: [
    input: string,
    range: { min: number; max?: number; rule: string },
    seconds: number | undefined,
    fix?: string,
  ][] = [
    ["1 day", DUPLICATE_WINDOW, DAY],
    ["P7D", DUPLICATE_WINDOW, 7 * DAY],
    ["20 seconds", DUPLICATE_WINDOW, 20],
    ["0 seconds", { min: 0, max: 7 * DAY, rule: "it must be within" }, 0],
    ["2 hours", { min: 60, rule: "the queue needs" }, 2 * HOUR],
    [
      "8 days",
      DUPLICATE_WINDOW,
      undefined,
      "is out of range; Service Bus duplicate detection allows 20 seconds..7 days.",
    ],
    [
      "10 s",
      DUPLICATE_WINDOW,
      undefined,
      "is out of range; Service Bus duplicate detection allows 20 seconds..7 days.",
    ],
    [
      "30 seconds",
      { min: 60, rule: "the queue needs" },
      undefined,
      "is out of range; the queue needs at least 1 minute.",
    ],
    [
      "soon",
      DUPLICATE_WINDOW,
      undefined,
      'is not a duration; use e.g. "1 day", "2 hours", "30 minutes" or ISO 8601 "P1D".',
    ],
  ];
  for (const [input, range, seconds, fix] of rows) {
    it(`${JSON.stringify(input)} -> ${fix ?? `${seconds} s`}`, () => {
      const checker = new ArgumentChecker("Owner");
      assert.equal(durationArgument(checker, "window", input, range), seconds);
      assert.deepEqual(checker.list(), fix === undefined ? [] : [{ argument: "window", value: input, fix }]);
    });
  }
});
