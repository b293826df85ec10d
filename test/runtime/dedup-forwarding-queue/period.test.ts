import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  longestBackwardShiftSeconds,
  periodOf,
  periodShapeProblem,
} from "../../../runtime/dedup-forwarding-queue/period";

const HOUR = 3600;
const DAY = 86_400;

function period(instant: string, periodSeconds: number, timeZone: string) {
  const { label, start, end } = periodOf(new Date(instant), periodSeconds, timeZone);
  return { label, start: start.toISOString(), end: end.toISOString() };
}

describe("period shapes", () => {
  it("accepts lengths that divide a day and whole days", () => {
    assert.deepEqual([20, 1800, 2 * HOUR, 8 * HOUR, DAY, 7 * DAY].map(periodShapeProblem), Array(6).fill(undefined));
  });

  it("rejects a length under a day that does not divide it", () => {
    assert.match(periodShapeProblem(7 * HOUR) ?? "", /^does not divide a day/);
  });

  it("rejects a length over a day that is not whole days", () => {
    assert.match(periodShapeProblem(36 * HOUR) ?? "", /^is longer than a day but not whole days/);
  });
});

describe("periods in UTC", () => {
  it("puts the last millisecond of a day in that day, run at the next midnight", () => {
    assert.deepEqual(period("2024-05-01T23:59:59.999Z", DAY, "UTC"), {
      label: "2024-05-01",
      start: "2024-05-01T00:00:00.000Z",
      end: "2024-05-02T00:00:00.000Z",
    });
  });

  it("puts midnight itself in the new day", () => {
    assert.equal(period("2024-05-02T00:00:00.000Z", DAY, "UTC").label, "2024-05-02");
  });

  it("buckets two-hour windows from midnight and labels them with their length", () => {
    assert.deepEqual(period("2024-05-01T13:59:00Z", 2 * HOUR, "UTC"), {
      label: "2024-05-01T12:00/PT2H",
      start: "2024-05-01T12:00:00.000Z",
      end: "2024-05-01T14:00:00.000Z",
    });
  });

  it("labels sub-minute windows to the second", () => {
    assert.equal(period("2024-05-01T10:00:31Z", 30, "UTC").label, "2024-05-01T10:00:30/PT30S");
  });

  it("aligns seven-day windows to the ISO week (Monday)", () => {
    assert.deepEqual(period("2024-05-01T10:00:00Z", 7 * DAY, "UTC"), {
      label: "2024-04-29/P7D",
      start: "2024-04-29T00:00:00.000Z",
      end: "2024-05-06T00:00:00.000Z",
    });
  });
});

describe("periods in a time zone, across DST", () => {
  it("follows the local calendar day in America/New_York", () => {
    assert.deepEqual(period("2024-03-10T04:59:00Z", DAY, "America/New_York"), {
      label: "2024-03-09",
      start: "2024-03-09T05:00:00.000Z",
      end: "2024-03-10T05:00:00.000Z",
    });
  });

  it("gives Europe/London's spring-forward day 23 hours", () => {
    assert.deepEqual(period("2025-03-30T12:00:00Z", DAY, "Europe/London"), {
      label: "2025-03-30",
      start: "2025-03-30T00:00:00.000Z",
      end: "2025-03-30T23:00:00.000Z",
    });
  });

  it("gives Europe/London's fall-back day 25 hours", () => {
    assert.deepEqual(period("2025-10-26T12:00:00Z", DAY, "Europe/London"), {
      label: "2025-10-26",
      start: "2025-10-25T23:00:00.000Z",
      end: "2025-10-27T00:00:00.000Z",
    });
  });

  it("keeps both passes through New York's repeated 01:00 hour in one period, run after the second", () => {
    const first = period("2024-11-03T05:30:00Z", HOUR, "America/New_York"); // 01:30 EDT
    const second = period("2024-11-03T06:30:00Z", HOUR, "America/New_York"); // 01:30 EST
    assert.deepEqual(first, second);
    assert.deepEqual(first, {
      label: "2024-11-03T01:00/PT1H",
      start: "2024-11-03T05:00:00.000Z",
      end: "2024-11-03T07:00:00.000Z",
    });
  });

  it("ends the hour before the repeated one when the clock first reads 01:00", () => {
    assert.equal(period("2024-11-03T04:30:00Z", HOUR, "America/New_York").end, "2024-11-03T05:00:00.000Z");
  });

  it("runs a bucket ending inside the skipped hour at the moment the clock jumps", () => {
    // 01:30-02:15 EST on 2024-03-10: 02:15 never shows; the clock jumps from 02:00 EST to 03:00 EDT at 07:00Z.
    assert.deepEqual(period("2024-03-10T06:30:00Z", 45 * 60, "America/New_York"), {
      label: "2024-03-10T01:30/PT45M",
      start: "2024-03-10T06:30:00.000Z",
      end: "2024-03-10T07:00:00.000Z",
    });
  });

  it("starts the bucket that holds the skipped hour at the jump", () => {
    assert.deepEqual(period("2024-03-10T07:00:00Z", 2 * HOUR, "America/New_York"), {
      label: "2024-03-10T02:00/PT2H",
      start: "2024-03-10T07:00:00.000Z",
      end: "2024-03-10T08:00:00.000Z",
    });
  });
});

describe("time zones", () => {
  it("measures how far each zone's clocks go back", () => {
    const zones = ["UTC", "Asia/Tokyo", "Europe/London", "Australia/Lord_Howe", "Antarctica/Troll"];
    assert.deepEqual(zones.map(longestBackwardShiftSeconds), [0, 0, HOUR, 1800, 2 * HOUR]);
  });
});
