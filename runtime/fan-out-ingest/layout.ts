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
