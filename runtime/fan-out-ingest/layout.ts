/**
 * Where a run's data lives in the chunk container, and what a chunk blob carries in its metadata.
 * Shared by the chunking and ingestion functions and by the component's Event Grid filter, so the
 * three always agree on which blobs are chunks.
 */

/**
 * Every chunk blob's name ends with this and nothing else in the container does: the Event Grid
 * subscription filters on it, so writing the manifest never triggers an ingestion.
 */
export const CHUNK_SUFFIX = ".chunk.json";

/** Chunk numbers are padded so a run's chunks list in order. */
const CHUNK_NUMBER_DIGITS = 6;

/** Metadata keys on a chunk blob (Azure metadata names must be C# identifiers; values are strings). */
export const CHUNK_METADATA = {
  /** Items in the chunk, written with the blob. */
  items: "items",
  /** Messages of the chunk already enqueued or poisoned, in order: the resume point of a retry. */
  ingested: "ingested",
  /** Of those, how many went to a poison queue. */
  poisoned: "poisoned",
  /** The invocation that wrote the checkpoint, so it recognises its own write when a lost response is retried. */
  writer: "writer",
} as const;

/** The chunking function's HTTP route: `POST /api/runs` starts a run. */
export const RUN_ROUTE = "runs";

/** A run id: a blob path segment that sorts by time when generated. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** `<runId>/000001.chunk.json` for the first chunk of a run. */
export function chunkBlobName(runId: string, chunkNumber: number): string {
  return `${runId}/${String(chunkNumber).padStart(CHUNK_NUMBER_DIGITS, "0")}${CHUNK_SUFFIX}`;
}

/** `<runId>/manifest.json`: the run's totals, written after its last chunk. */
export function manifestBlobName(runId: string): string {
  return `${runId}/manifest.json`;
}

/** The Event Grid subject prefix of blobs in a container. */
export function blobSubjectPrefix(container: string): string {
  return `/blobServices/default/containers/${container}/blobs/`;
}

/** A new run id: the UTC time (sortable) and a random suffix (unique when two runs start together). */
export function newRunId(now = new Date()): string {
  const random = Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, "0");
  return `${now.toISOString().replace(/[:.]/g, "-")}-${random}`;
}

/** What a timer trigger says about its firing (`Timer` of `@azure/functions`); the host omits the status when it keeps none. */
export interface TimerFiring {
  scheduleStatus?: { next?: string } | null;
}

/**
 * A timer-started run's id: the time the firing was scheduled for, so an invocation that repeats a
 * firing (the host invokes a firing again as past due when the instance died during it) resumes the
 * same run instead of starting over. While the host runs a firing, `scheduleStatus.next` is that
 * firing's time; when there is no status (schedules under a minute keep none) or it lies ahead (a
 * run at startup), the current time stands in, truncated to the schedule's resolution: the minute,
 * or the second when the schedule fires more than once a minute.
 */
export function timerRunId(timer: TimerFiring | null | undefined, schedule: string, now = new Date()): string {
  const scheduled = new Date(timer?.scheduleStatus?.next ?? Number.NaN);
  const firing = scheduled.getTime() <= now.getTime() ? scheduled : truncatedToSchedule(now, schedule);
  return `${firing.toISOString().replace(/[:.]/g, "-")}-timer`;
}

function truncatedToSchedule(now: Date, schedule: string): Date {
  const secondField = schedule.trim().split(/\s+/)[0];
  const resolutionMs = /^\d+$/.test(secondField) ? 60_000 : 1000;
  return new Date(Math.floor(now.getTime() / resolutionMs) * resolutionMs);
}
