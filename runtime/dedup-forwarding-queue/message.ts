/**
 * The processing request every observation schedules: what the producer writes and the processor
 * reads, so both sides agree on one shape.
 */

/** The body of a processing message (JSON). */
export interface ProcessingRequest {
  dataSetId: string;
  /** The period label, e.g. `2024-03-10` or `2024-03-10T02:00/PT2H`. */
  period: string;
  /** The window name the period belongs to, e.g. `daily`. */
  window: string;
  /** ISO 8601 instant: the start of the period in real time. */
  periodStart: string;
  /** ISO 8601 instant: the end of the period in real time (the run is scheduled at or after it). */
  periodEnd: string;
}

export const PROCESSING_REQUEST_CONTENT_TYPE = "application/json";

/** A message that is not a processing request; it can never succeed and ends in the dead-letter queue. */
export class MalformedProcessingRequestError extends Error {
  constructor(reason: string) {
    super(`malformed processing request: ${reason}`);
    this.name = "MalformedProcessingRequestError";
  }
}

const TEXT_FIELDS = ["dataSetId", "period", "window", "periodStart", "periodEnd"] as const;

function decodeBody(body: unknown): unknown {
  if (typeof body === "string") return JSON.parse(body);
  if (body instanceof Uint8Array) return JSON.parse(Buffer.from(body).toString("utf8"));
  return body;
}

/** Reads a message body (the parsed JSON object, or its text or bytes) as a processing request. */
export function parseProcessingRequest(body: unknown): ProcessingRequest {
  let value: unknown;
  try {
    value = decodeBody(body);
  } catch (error) {
    throw new MalformedProcessingRequestError(`the body is not JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MalformedProcessingRequestError(`the body is ${JSON.stringify(value)}, not an object`);
  }
  const fields = value as Record<string, unknown>;
  const missing = TEXT_FIELDS.filter((field) => typeof fields[field] !== "string" || fields[field] === "");
  if (missing.length > 0) {
    throw new MalformedProcessingRequestError(`${missing.join(", ")} missing or not a non-empty string`);
  }
  for (const field of ["periodStart", "periodEnd"] as const) {
    if (Number.isNaN(Date.parse(fields[field] as string))) {
      throw new MalformedProcessingRequestError(`${field} ${JSON.stringify(fields[field])} is not an ISO 8601 instant`);
    }
  }
  const { dataSetId, period, window, periodStart, periodEnd } = fields as unknown as ProcessingRequest;
  return { dataSetId, period, window, periodStart, periodEnd };
}
