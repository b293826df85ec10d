/**
 * Child side of the packaging benchmark's cold start. Run as
 * `node packaging-coldstart.js <unpackedDir> <entryFile> <eventJson>` in a fresh process: loads the
 * archive's entry, invokes its `handler` once, prints one result line, then one line listing the
 * module files it loaded (for the parent to evict from the page cache), and exits.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { format } from "node:util";

/** Prefixes the result line the child prints for the parent; the handler's own logs go to stdout too. */
export const RESULT_MARKER = "__packaging_bench_result__ ";
/** Prefixes the line listing the module files loaded, printed after the result (outside the timing). */
export const LOADED_MARKER = "__packaging_bench_loaded__ ";

export interface ColdStartReport {
  result?: unknown;
  error?: string;
  /** Node.js start-up: from the process's start (`performance.timeOrigin`) to this script's first line. */
  startupMs: number;
  /** Time spent in `require(entry)`. */
  loadMs: number;
  /** Time spent in the first `handler(event, context)`. */
  invokeMs: number;
  /** CPU time (user + system, all threads) of the process from its start to the first result. */
  cpuMs: number;
}

function write(line: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
}

async function report(body: ColdStartReport, exitCode: number): Promise<void> {
  await write(`${RESULT_MARKER}${JSON.stringify(body)}`);
  await write(`${LOADED_MARKER}${JSON.stringify(Object.keys(require.cache))}`);
  process.exit(exitCode);
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Lambda's Node.js runtime replaces the console before it loads the handler, with functions that
 * write each line synchronously to a file descriptor (LogPatch.js of
 * https://github.com/aws/aws-lambda-nodejs-runtime-interface-client): the handler's logs never
 * create `process.stdout`. So does this harness, or the first log line would charge the set-up of
 * Node's stdout stream to the archive under test.
 */
function patchConsoleAsLambdaDoes(): void {
  for (const level of ["log", "info", "warn", "error", "debug", "trace"] as const) {
    console[level] = (...args: unknown[]) => fs.writeSync(1, `${format(...args)}\n`);
  }
}

async function main(): Promise<void> {
  patchConsoleAsLambdaDoes();
  const [dir, entryFile, eventJson] = process.argv.slice(2);
  const started = performance.now();
  let loaded = started;
  const timings = () => {
    const now = performance.now();
    return { startupMs: started, loadMs: loaded - started, invokeMs: now - loaded, cpuMs: cpuMs() };
  };
  try {
    const entry = require(path.join(dir, entryFile)) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    loaded = performance.now();
    const context = { functionName: "bench", awsRequestId: "bench-1", getRemainingTimeInMillis: () => 30_000 };
    const result = await entry.handler(JSON.parse(eventJson), context);
    await report({ result, ...timings() }, 0);
  } catch (error) {
    await report(
      { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), ...timings() },
      1,
    );
  }
}

if (require.main === module) void main();
