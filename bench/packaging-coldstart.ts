/**
 * Child side of the packaging benchmark's cold start. Run as
 * `node packaging-coldstart.js <unpackedDir> <entryFile> <eventJson>` in a fresh process: loads the
 * archive's entry, invokes its `handler` once, prints one result line and exits.
 */
import * as path from "node:path";
import { performance } from "node:perf_hooks";

/** Prefixes the one line the child prints for the parent; the handler's own logs go to stdout too. */
export const RESULT_MARKER = "__packaging_bench_result__ ";

export interface ColdStartReport {
  result?: unknown;
  error?: string;
  /** Time spent in `require(entry)`. */
  loadMs: number;
  /** Time spent in the first `handler(event, context)`. */
  invokeMs: number;
}

function report(body: ColdStartReport, exitCode: number): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(body)}\n`, () => process.exit(exitCode));
}

async function main(): Promise<void> {
  const [dir, entryFile, eventJson] = process.argv.slice(2);
  const started = performance.now();
  let loaded = started;
  try {
    const entry = require(path.join(dir, entryFile)) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    loaded = performance.now();
    const context = { functionName: "bench", awsRequestId: "bench-1", getRemainingTimeInMillis: () => 30_000 };
    const result = await entry.handler(JSON.parse(eventJson), context);
    report({ result, loadMs: loaded - started, invokeMs: performance.now() - loaded }, 0);
  } catch (error) {
    const now = performance.now();
    report(
      {
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        loadMs: loaded - started,
        invokeMs: now - loaded,
      },
      1,
    );
  }
}

if (require.main === module) void main();
