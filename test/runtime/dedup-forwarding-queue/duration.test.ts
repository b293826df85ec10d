import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  describeDuration,
  isoDuration,
  parseDuration,
  timeSpan,
} from "../../../runtime/dedup-forwarding-queue/duration";

const HOUR = 3600;
const DAY = 86_400;

describe("parseDuration", () => {
  // Spoken durations, and ISO 8601 durations without years or months (their lengths vary).
  const rows: [input: string, seconds: number | undefined][] = [
    ["1 day", DAY],
    ["2 hours", 2 * HOUR],
    ["30 minutes", 1800],
    ["45 seconds", 45],
    ["1 week", 7 * DAY],
    ["1 day 12 hours", 1.5 * DAY],
    ["90 s", 90],
    ["7days", 7 * DAY],
    ["  2 hrs ", 2 * HOUR],
    ["P1D", DAY],
    ["PT2H", 2 * HOUR],
    ["PT30M", 1800],
    ["P1DT12H", 1.5 * DAY],
    ["P1W", 7 * DAY],
    ["pt20s", 20],
    ["1 fortnight", undefined],
    ["", undefined],
    ["-1 day", undefined],
    ["1.5 hours", undefined],
    ["P1M", undefined],
    ["P", undefined],
    ["PT", undefined],
    ["P1DT", undefined],
    ["day", undefined],
  ];
  for (const [input, seconds] of rows) {
    it(`${JSON.stringify(input)} -> ${seconds}`, () => {
      assert.equal(parseDuration(input), seconds);
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
    it(`${seconds} s -> ISO 8601 ${iso} (ARM), TimeSpan ${span} (host.json), "${words}" (errors)`, () => {
      assert.deepEqual([isoDuration(seconds), timeSpan(seconds), describeDuration(seconds)], [iso, span, words]);
    });
  }
});
