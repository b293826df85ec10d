/**
 * Durations as people write them ("1 day", "2 hours") and as Service Bus and the Functions host
 * want them (ISO 8601 `P1DT1H` for ARM, .NET `d.hh:mm:ss` for host.json), in whole seconds.
 */

const UNIT_SECONDS: Record<string, number> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86_400,
  week: 604_800,
};

const UNIT_ALIASES: Record<string, string> = {
  s: "second",
  sec: "second",
  secs: "second",
  m: "minute",
  min: "minute",
  mins: "minute",
  h: "hour",
  hr: "hour",
  hrs: "hour",
  d: "day",
  w: "week",
};

const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i;
const SPOKEN_PART = /(\d+)\s*([a-z]+)/gi;
const SPOKEN_DURATION = /^(?:\d+\s*[a-z]+\s*)+$/i;

function unitSeconds(word: string): number | undefined {
  const lower = word.toLowerCase();
  const singular = lower.endsWith("s") && UNIT_SECONDS[lower.slice(0, -1)] !== undefined ? lower.slice(0, -1) : lower;
  return UNIT_SECONDS[singular] ?? UNIT_SECONDS[UNIT_ALIASES[lower] ?? ""];
}

/**
 * Whole seconds of "1 day", "2 hours", "1 day 12 hours", "30 minutes", "45 s", or ISO 8601 without
 * years and months ("P1D", "PT2H", "P1DT12H", "P1W"), whose lengths vary. Undefined when unreadable.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== "string") return undefined;
  const trimmed = text.trim();
  const iso = ISO_DURATION.exec(trimmed);
  if (iso) {
    if (trimmed.toUpperCase() === "P" || trimmed.toUpperCase().endsWith("T")) return undefined;
    const [weeks, days, hours, minutes, seconds] = iso.slice(1).map((part) => Number(part ?? 0));
    return weeks * 604_800 + days * 86_400 + hours * 3600 + minutes * 60 + seconds;
  }
  if (!SPOKEN_DURATION.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(SPOKEN_PART)) {
    const seconds = unitSeconds(unit);
    if (seconds === undefined) return undefined;
    total += Number(amount) * seconds;
  }
  return total;
}

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
