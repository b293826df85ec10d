/**
 * Processing periods on the wall clock of a time zone, with the Intl API only.
 *
 * A period is a bucket of local wall-clock time: "1 day" is the local calendar day, "2 hours" is
 * 00:00-02:00, 02:00-04:00, ... local time, "7 days" is the ISO week (Monday to Sunday). Its run
 * must come after every instant whose wall clock reads inside it, so around DST changes a period
 * lasts longer or shorter in real time than its nominal length: the local day the clocks go back
 * lasts 25 hours, and a 30-minute bucket inside the repeated hour spans 90 minutes.
 */
import { isoDuration } from "./duration";

export const DAY_SECONDS = 86_400;
const DAY_MS = DAY_SECONDS * 1000;
/** Multi-day periods count whole days from Monday 1969-12-29, so "7 days" is the ISO week. */
const PERIOD_ANCHOR_MS = -3 * DAY_MS;

/** One processing period: its label (part of the message id) and its real-time bounds. */
export interface Period {
  /** `2024-03-10` (1 day), `2024-03-04/P7D` (n days), `2024-03-10T02:00/PT2H` (under a day). */
  label: string;
  /** The first instant whose local wall clock reads inside the period. */
  start: Date;
  /** The instant after the last one whose local wall clock reads inside the period. */
  end: Date;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The local wall-clock time of an instant, as milliseconds of a UTC date with the same fields. */
function wallClock(instantMs: number, timeZone: string): number {
  if (timeZone === "UTC") return instantMs;
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instantMs))) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const wholeSeconds = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second);
  return wholeSeconds + (((instantMs % 1000) + 1000) % 1000);
}

function utcOffset(instantMs: number, timeZone: string): number {
  return wallClock(instantMs, timeZone) - instantMs;
}

/**
 * The first instant at which the local clock reaches `wall` coming from an earlier reading. When
 * `last` is set, the last such instant: the clock reads 01:30 twice on the night it goes back.
 * A wall time skipped when the clock goes forward is reached at the moment of the jump.
 */
function instantReaching(wall: number, timeZone: string, last: boolean): number {
  const candidates = [
    ...new Set([wall - utcOffset(wall - DAY_MS, timeZone), wall - utcOffset(wall + DAY_MS, timeZone)]),
  ].sort((a, b) => a - b);
  const reaching = candidates.filter(
    (instant) => wallClock(instant, timeZone) === wall && wallClock(instant - 1, timeZone) < wall,
  );
  if (reaching.length > 0) return last ? reaching[reaching.length - 1] : reaching[0];
  // Skipped wall time: find the jump, the first instant whose wall clock reads at or after `wall`.
  let low = candidates[0];
  let high = candidates[candidates.length - 1];
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (wallClock(middle, timeZone) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

/**
 * Why a period length cannot bucket the wall clock, or undefined: under a day it must divide 24
 * hours (buckets start at local midnight), from a day on it must be whole days.
 */
export function periodShapeProblem(periodSeconds: number): string | undefined {
  if (periodSeconds < DAY_SECONDS && DAY_SECONDS % periodSeconds !== 0) {
    return "does not divide a day; periods start at local midnight, so use a length that divides 24 hours (e.g. 7200 for 2 hours, 1800 for 30 minutes) or whole days.";
  }
  if (periodSeconds > DAY_SECONDS && periodSeconds % DAY_SECONDS !== 0) {
    return "is longer than a day but not whole days; use whole days (e.g. 604800 for 7 days).";
  }
  return undefined;
}

function periodLabel(startWall: number, periodSeconds: number): string {
  const iso = new Date(startWall).toISOString();
  const date = iso.slice(0, 10);
  if (periodSeconds === DAY_SECONDS) return date;
  if (periodSeconds % DAY_SECONDS === 0) return `${date}/P${periodSeconds / DAY_SECONDS}D`;
  const clock = periodSeconds % 60 === 0 ? iso.slice(11, 16) : iso.slice(11, 19);
  return `${date}T${clock}/${isoDuration(periodSeconds)}`;
}

/** The period of `periodSeconds` (a valid shape, see `periodShapeProblem`) holding `instant` in `timeZone`. */
export function periodOf(instant: Date, periodSeconds: number, timeZone: string): Period {
  const periodMs = periodSeconds * 1000;
  const wall = wallClock(instant.getTime(), timeZone);
  const startWall = Math.floor((wall - PERIOD_ANCHOR_MS) / periodMs) * periodMs + PERIOD_ANCHOR_MS;
  return {
    label: periodLabel(startWall, periodSeconds),
    start: new Date(instantReaching(startWall, timeZone, false)),
    end: new Date(instantReaching(startWall + periodMs, timeZone, true)),
  };
}

const backwardShifts = new Map<string, number>();
/** The years scanned for clock changes: fixed, so the answer (and the queue it sizes) never drifts. */
const SCAN_FROM = Date.UTC(2020, 0, 1);
const SCAN_TO = Date.UTC(2040, 0, 1);

/**
 * The largest step by which the zone's clocks go back (DST ending: 3600 in Europe/London, 1800 on
 * Lord Howe Island, 0 in UTC or Asia/Tokyo), from its rules over 2020-2039. A period can last this
 * much longer in real time than its nominal length.
 */
export function longestBackwardShiftSeconds(timeZone: string): number {
  const known = backwardShifts.get(timeZone);
  if (known !== undefined) return known;
  let largest = 0;
  if (timeZone !== "UTC") {
    let previous = utcOffset(SCAN_FROM, timeZone);
    for (let instant = SCAN_FROM + DAY_MS; instant <= SCAN_TO; instant += DAY_MS) {
      const offset = utcOffset(instant, timeZone);
      largest = Math.max(largest, previous - offset);
      previous = offset;
    }
  }
  backwardShifts.set(timeZone, largest / 1000);
  return largest / 1000;
}
