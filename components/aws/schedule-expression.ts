/**
 * EventBridge Scheduler's recurring schedule expressions, `rate(...)` and six-field `cron(...)`,
 * as its user guide defines them
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based and
 * #rate-based). One-time `at(...)` expressions are not recurring and are rejected.
 */

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Forms beside numbers, ranges, lists and steps (`L`, `W`, `#`). */
  special?: RegExp;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const CRON_FIELDS: CronField[] = [
  { name: "minutes", min: 0, max: 59 },
  { name: "hours", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31, special: /^(\?|L|LW|L-\d{1,2}|\d{1,2}W)$/ },
  { name: "month", min: 1, max: 12, names: MONTHS },
  {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: WEEKDAYS,
    special: /^(\?|L|[1-7]L|[A-Z]{3}L|[1-7]#[1-5]|[A-Z]{3}#[1-5])$/,
  },
  { name: "year", min: 1970, max: 2199 },
];

function cronValue(token: string, field: CronField): number | undefined {
  if (/^\d+$/.test(token)) return Number(token);
  const index = field.names?.indexOf(token.toUpperCase()) ?? -1;
  return index >= 0 ? index + 1 : undefined;
}

/** Why one cron field is invalid, or undefined. */
function cronFieldProblem(value: string, field: CronField): string | undefined {
  for (const part of value.split(",")) {
    if (field.special?.test(part.toUpperCase())) {
      if (part === "?" || !/\d/.test(part)) continue;
      const day = Number(part.match(/\d+/)?.[0]);
      if (day >= field.min && day <= field.max) continue;
      return `${field.name} "${value}" names ${day}, outside ${field.min}..${field.max}`;
    }
    const match = part.match(/^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(\d+))?$/);
    if (!match) return `${field.name} "${value}" is not a value, range, list or step`;
    const [, start, end, step] = match;
    const bounds = [start, end].filter((token): token is string => token !== undefined && token !== "*");
    for (const token of bounds) {
      const number = cronValue(token, field);
      if (number === undefined || number < field.min || number > field.max) {
        const allowed = field.names
          ? `${field.min}..${field.max} or ${field.names[0]}..${field.names.at(-1)}`
          : `${field.min}..${field.max}`;
        return `${field.name} "${value}" has ${token}, outside ${allowed}`;
      }
    }
    if (step !== undefined && Number(step) < 1) return `${field.name} "${value}" steps by 0`;
  }
  return undefined;
}

/** Why a schedule expression is not a valid recurring EventBridge Scheduler expression, or undefined. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const rate = expression.match(/^rate\((.*)\)$/);
  if (rate) {
    const parts = rate[1].match(/^(\d+) (minute|minutes|hour|hours|day|days)$/);
    if (!parts || Number(parts[1]) < 1) {
      return 'a rate is "rate(<positive whole number> <minute(s)|hour(s)|day(s)>)", e.g. "rate(6 hours)"';
    }
    return undefined;
  }
  const cron = expression.match(/^cron\((.*)\)$/);
  if (!cron) return 'use "cron(<6 fields>)" or "rate(<value> <unit>)"';
  const fields = cron[1].trim().split(/\s+/);
  if (fields.length !== 6) {
    return (
      `a cron has 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}; ` +
      'e.g. "cron(0 9 ? * MON-FRI *)" is 09:00 on weekdays'
    );
  }
  for (const [index, field] of CRON_FIELDS.entries()) {
    const problem = cronFieldProblem(fields[index], field);
    if (problem) return problem;
  }
  if ((fields[2] === "?") === (fields[4] === "?")) {
    return 'exactly one of day-of-month and day-of-week must be "?", e.g. "cron(0 9 * * ? *)" for every day';
  }
  return undefined;
}
