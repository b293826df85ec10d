import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isIanaTimeZone } from "../../../runtime/shared/time-zone";

describe("isIanaTimeZone", () => {
  // Offsets are what Intl accepts since ECMA-402 2024 (Node.js 22 and 24) but Scheduler does not:
  // https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#time-zones
  const rows: [input: string, expected: boolean][] = [
    ["UTC", true],
    ["Europe/London", true],
    ["America/New_York", true],
    ["Australia/Lord_Howe", true],
    ["Etc/GMT-1", true],
    ["+01:00", false],
    ["-05:00", false],
    ["+0100", false],
    ["+01", false],
    ["Mars/Olympus", false],
    ["Europe/Paaris", false],
    ["GMT+1", false],
    ["", false],
  ];
  for (const [input, expected] of rows) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => {
      assert.equal(isIanaTimeZone(input), expected);
    });
  }

  it('rejects "+01:00" although Intl accepts offsets from Node.js 22 on (ECMA-402 2024)', () => {
    let intlAcceptsOffsets: boolean;
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: "+01:00" });
      intlAcceptsOffsets = true;
    } catch {
      intlAcceptsOffsets = false;
    }
    const major = Number(process.versions.node.split(".")[0]);
    assert.equal(intlAcceptsOffsets, major >= 22, "Intl takes offsets from Node.js 22 on");
    assert.equal(isIanaTimeZone("+01:00"), false);
  });
});
