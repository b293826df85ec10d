/**
 * Durations in whole seconds as Service Bus and the Functions host want them (ISO 8601 `P1DT1H`
 * for ARM, .NET `d.hh:mm:ss` for host.json) and as error messages describe them.
 */

/** ISO 8601 duration, days as the largest unit: 90000 -> "P1DT1H", 7200 -> "PT2H", 0 -> "PT0S". */
export function isoDuration(totalSeconds: number): string {
  const { days, hours, minutes, seconds } = split(totalSeconds);
  const time = `${hours ? `${hours}H` : ""}${minutes ? `${minutes}M` : ""}${seconds ? `${seconds}S` : ""}`;
  if (!days && !time) return "PT0S";
  return `P${days ? `${days}D` : ""}${time ? `T${time}` : ""}`;
}

/** .NET TimeSpan text for host.json: 10 -> "00:00:10", 93600 -> "1.02:00:00". */
export function timeSpan(totalSeconds: number): string {
  const { days, hours, minutes, seconds } = split(totalSeconds);
  const clock = [hours, minutes, seconds].map((n) => String(n).padStart(2, "0")).join(":");
  return days ? `${days}.${clock}` : clock;
}

/** Words for error messages: 90300 -> "1 day 1 hour 5 minutes". */
export function describeDuration(totalSeconds: number): string {
  const { days, hours, minutes, seconds } = split(totalSeconds);
  const parts = [
    [days, "day"],
    [hours, "hour"],
    [minutes, "minute"],
    [seconds, "second"],
  ] as const;
  const words = parts.filter(([n]) => n > 0).map(([n, unit]) => `${n} ${unit}${n === 1 ? "" : "s"}`);
  return words.length > 0 ? words.join(" ") : "0 seconds";
}

function split(totalSeconds: number): { days: number; hours: number; minutes: number; seconds: number } {
  return {
    days: Math.floor(totalSeconds / 86_400),
    hours: Math.floor((totalSeconds % 86_400) / 3600),
    minutes: Math.floor((totalSeconds % 3600) / 60),
    seconds: totalSeconds % 60,
  };
}
