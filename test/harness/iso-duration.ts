/**
 * Reads back the ISO 8601 durations ARM and the Service Bus administration API report, so tests
 * can compare them with the seconds the component was given.
 */

const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/**
 * Whole seconds of an ISO 8601 duration in days, hours, minutes and seconds ("P1DT2H", "PT10M"):
 * what ARM and the Service Bus administration API report, read back. Undefined for anything else.
 */
export function isoDurationSeconds(text: string): number | undefined {
  const match = ISO_DURATION.exec(text);
  if (!match || text === "P" || text.endsWith("T")) return undefined;
  const [days, hours, minutes, seconds] = match.slice(1).map((part) => Number(part ?? 0));
  return days * 86_400 + hours * 3600 + minutes * 60 + seconds;
}
