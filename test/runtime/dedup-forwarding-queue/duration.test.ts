import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeDuration, isoDuration, timeSpan } from "../../../runtime/dedup-forwarding-queue/duration";
import { isoDurationSeconds } from "../../harness/iso-duration";

const HOUR = 3600;
const DAY = 86_400;

describe("isoDurationSeconds", () => {
  // ISO 8601 in days, hours, minutes and seconds, as ARM and the administration API report it.
  const rows: [input: string, seconds: number | undefined][] = [
    ["P1D", DAY],
    ["PT2H", 2 * HOUR],
    ["PT30M", 1800],
    ["PT20S", 20],
    ["P1DT12H", 1.5 * DAY],
    ["P7DT5M", 7 * DAY + 300],
    ["PT0S", 0],
    ["1 day", undefined],
    ["", undefined],
    ["P1M", undefined],
    ["P", undefined],
    ["PT", undefined],
    ["P1DT", undefined],
  ];
  for (const [input, seconds] of rows) {
    it(`${JSON.stringify(input)} -> ${seconds}`, () => {
      assert.equal(isoDurationSeconds(input), seconds);
    });
  }
});

describe("duration formats", () => {
  const rows: [seconds: number, iso: string, span: string, words: string][] = [
    [0, "PT0S", "00:00:00", "0 seconds"],
    [10, "PT10S", "00:00:10", "10 seconds"],
    [1800, "PT30M", "00:30:00", "30 minutes"],
    [2 * HOUR, "PT2H", "02:00:00", "2 hours"],
    [DAY, "P1D", "1.00:00:00", "1 day"],
    [DAY + 2 * HOUR, "P1DT2H", "1.02:00:00", "1 day 2 hours"],
    [DAY + HOUR + 300, "P1DT1H5M", "1.01:05:00", "1 day 1 hour 5 minutes"],
  ];
  for (const [seconds, iso, span, words] of rows) {
    it(`${seconds} s -> ISO 8601 ${iso} (ARM, read back), TimeSpan ${span} (host.json), "${words}" (errors)`, () => {
      assert.deepEqual(
        [isoDuration(seconds), isoDurationSeconds(iso), timeSpan(seconds), describeDuration(seconds)],
        [iso, seconds, span, words],
      );
    });
  }
});
