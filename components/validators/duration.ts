/**
 * Duration arguments as people write them ("1 day", "2 hours", ISO 8601 "P1D"), read by
 * `parseDuration` (runtime/dedup-forwarding-queue/duration.ts, which the runtime shares) and
 * checked against the range a service allows.
 */
import { describeDuration, parseDuration } from "../../runtime/dedup-forwarding-queue/duration";
import type { ArgumentChecker } from "../validation";

/** Reads a duration argument, recording a problem when unreadable or outside [min, max] seconds. */
export function durationArgument(
  checker: ArgumentChecker,
  argument: string,
  value: string,
  range: { min: number; max?: number; rule: string },
): number | undefined {
  const seconds = parseDuration(value);
  if (seconds === undefined) {
    checker.check(
      false,
      argument,
      value,
      'is not a duration; use e.g. "1 day", "2 hours", "30 minutes" or ISO 8601 "P1D".',
    );
    return undefined;
  }
  const inRange = seconds >= range.min && (range.max === undefined || seconds <= range.max);
  const allowed =
    range.max === undefined
      ? `at least ${describeDuration(range.min)}`
      : `${describeDuration(range.min)}..${describeDuration(range.max)}`;
  checker.check(inRange, argument, value, `is out of range; ${range.rule} ${allowed}.`);
  return inRange ? seconds : undefined;
}
