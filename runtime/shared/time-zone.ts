/**
 * Time zones as the components take them: IANA zone names (`UTC`, `Europe/London`), never UTC
 * offsets. EventBridge Scheduler's `ScheduleExpressionTimezone` takes zone names
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#time-zones), and
 * since ECMA-402 2024 Intl also accepts offsets such as "+01:00" (Node.js 22 and 24 do; Node.js 20
 * throws RangeError), so "whatever Intl accepts" would depend on the Node.js build doing the check.
 * A zone name means the same on every build and carries its daylight-saving rules; a fixed offset
 * is still available by name (`Etc/GMT-1` is UTC+01:00, the sign inverted as in POSIX).
 */

/** Whether `name` is an IANA time zone name the running Node.js knows (`UTC`, `Europe/London`). */
export function isIanaTimeZone(name: string): boolean {
  // Zone names start with a letter; UTC offsets ("+01:00", "-0500") start with a sign.
  if (typeof name !== "string" || !/^[A-Za-z]/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
