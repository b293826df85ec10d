/**
 * The chunking function's work: stream the user's source into chunk blobs of `chunkSize` items,
 * never holding more than the chunks being uploaded, then write the run's manifest.
 */
import { type ContainerClient, RestError } from "@azure/storage-blob";
import type { RunContext } from "./contract";
import { CHUNK_METADATA, chunkBlobName, manifestBlobName } from "./layout";

/** The user's source: yields the items of one run, typically page by page from a paginated API. */
export type SourceCallback = (run: RunContext) => AsyncIterable<unknown> | Iterable<unknown>;

export interface ChunkingOptions {
  chunkSize: number;
  /** Chunk uploads in flight at once; the source is paused while all of them are busy. */
  uploadConcurrency: number;
}

/** `<runId>/manifest.json`: the totals a completeness check compares against. */
export interface RunManifest {
  runId: string;
  items: number;
  chunks: number;
  chunkSize: number;
  startedAt: string;
  completedAt: string;
}

export interface ChunkingResult {
  manifest: RunManifest;
  /** Chunks found already written by an earlier attempt of the same run id, and left as they were. */
  existingChunks: number;
  /** The run's manifest already existed: nothing was read from the source. */
  alreadyComplete: boolean;
}

/**
 * Writes one run. Chunks are created only if absent (`If-None-Match: *`), so running a failed run
 * again with the same id writes just the chunks it lacks and re-ingests nothing; that assumes the
 * source yields the same items in the same order.
 */
export async function writeRun(
  container: ContainerClient,
  run: RunContext,
  source: SourceCallback,
  options: ChunkingOptions,
): Promise<ChunkingResult> {
  const previous = await readManifest(container, run.runId);
  if (previous) return { manifest: previous, existingChunks: previous.chunks, alreadyComplete: true };

  const startedAt = new Date().toISOString();
  const items = source(run);
  if (!isIterable(items)) {
    throw new TypeError(
      `source returned ${items === null ? "null" : typeof items}; it must return an async iterable (e.g. an async generator) or an iterable.`,
    );
  }

  const uploads = new ChunkUploads(container, run.runId, options.uploadConcurrency);
  let batch: unknown[] = [];
  let itemCount = 0;
  try {
    for await (const item of items) {
      if (item === undefined)
        throw new TypeError(
          `source yielded undefined as item ${itemCount + 1} of run ${run.runId}; yield JSON values.`,
        );
      batch.push(item);
      itemCount++;
      if (batch.length === options.chunkSize) {
        await uploads.add(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await uploads.add(batch);
  } catch (error) {
    // Let started uploads finish before the function returns, so a resumed run finds them whole.
    await uploads.settle();
    throw error;
  }
  await uploads.settle();
  uploads.throwIfFailed();

  const manifest: RunManifest = {
    runId: run.runId,
    items: itemCount,
    chunks: uploads.count,
    chunkSize: options.chunkSize,
    startedAt,
    completedAt: new Date().toISOString(),
  };
  const body = JSON.stringify(manifest);
  await container
    .getBlockBlobClient(manifestBlobName(run.runId))
    .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: "application/json" } });
  return { manifest, existingChunks: uploads.existing, alreadyComplete: false };
}

function isIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  const candidate = value as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
  return typeof candidate[Symbol.asyncIterator] === "function" || typeof candidate[Symbol.iterator] === "function";
}

/** The run's manifest, or undefined while the run has not finished chunking. */
export async function readManifest(container: ContainerClient, runId: string): Promise<RunManifest | undefined> {
  try {
    const buffer = await container.getBlockBlobClient(manifestBlobName(runId)).downloadToBuffer();
    return JSON.parse(buffer.toString("utf8")) as RunManifest;
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  }
}

/** Uploads chunks in order of creation with at most `limit` in flight; `add` waits for a free slot. */
class ChunkUploads {
  count = 0;
  existing = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly container: ContainerClient,
    private readonly runId: string,
    private readonly limit: number,
  ) {}

  async add(items: unknown[]): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.size >= this.limit) await Promise.race(this.inFlight);
    this.throwIfFailed();
    this.count++;
    const upload: Promise<void> = this.upload(chunkBlobName(this.runId, this.count), items)
      .catch((error) => {
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  /** Waits for every started upload; failures are kept for `throwIfFailed`. */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  private async upload(name: string, items: unknown[]): Promise<void> {
    const body = JSON.stringify(items);
    try {
      await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: "application/json" },
        metadata: { [CHUNK_METADATA.items]: String(items.length) },
        conditions: { ifNoneMatch: "*" },
      });
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 409) {
        this.existing++;
        return;
      }
      throw error;
    }
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
