/**
 * `npm run bench -- preview`: what this package adds to a `pulumi preview`, against
 * `aws.lambda.CallbackFunction` measured in the same run:
 * - import time: in a fresh process that has loaded @pulumi/pulumi, requiring this package's compiled
 *   index, against requiring @pulumi/aws (what a CallbackFunction program loads);
 * - program time: 1, 5 and 20 FifoIngesters (each with a different callback) in a fresh process under
 *   mocks, with a cold bundle cache (an empty folder) and a warm one (the same folder, second run),
 *   against 1, 5 and 20 CallbackFunctions; the cost per component is the marginal (T20 - T1) / 19,
 *   which leaves out what a process pays once (loading esbuild, the serializer's inspector session).
 * Every program runs in a folder like a user's stack (a package.json listing @pulumi/pulumi and
 * @pulumi/aws; CallbackFunction ships that package.json's dependencies). Prints targets and whether
 * they are met; fails for no timing.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Subject } from "./preview-program";
import { printTable } from "./table";

/**
 * Import time over @pulumi/aws's before the layout change, on commit 84d5a68 (the index loaded all
 * five runtimes and their SDKs): measured as `reportImport` measures, median of 15 fresh processes
 * each, interleaved, 1463 ms against 191 ms, on this machine (2 shared cores) on 2026-12-08:
 *   git worktree add /tmp/qp-old 84d5a68 && cp -al node_modules /tmp/qp-old/ && (cd /tmp/qp-old && npx tsc)
 *   PACKAGE_ROOT=/tmp/qp-old npm run bench -- preview
 */
const IMPORT_RATIO_84D5A68 = 7.7;
const IMPORT_TARGET = 0.5;
const WARM_TARGET = 0.2;
const COLD_TARGET = 1;
const COUNTS = [1, 5, 20] as const;
/** Fresh processes per import measurement; the median is reported. */
const IMPORT_RUNS = 7;

const repositoryRoot = path.resolve(__dirname, "..", "..");

export async function run(): Promise<void> {
  const stackDir = typicalStackFolder();
  try {
    reportImport(stackDir);
    reportProgram(stackDir);
  } finally {
    fs.rmSync(stackDir, { recursive: true, force: true });
  }
}

function reportImport(stackDir: string): void {
  const packageRoot = process.env.PACKAGE_ROOT ?? repositoryRoot;
  const ours: number[] = [];
  const aws: number[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    ours.push(importMs(stackDir, path.join(packageRoot, "dist", "components", "index.js")));
    aws.push(importMs(stackDir, "@pulumi/aws"));
  }
  const [oursMs, awsMs] = [median(ours), median(aws)];
  const ratio = oursMs / awsMs;
  const limit = IMPORT_RATIO_84D5A68 * IMPORT_TARGET;
  console.log(`\nImport time after @pulumi/pulumi, median of ${IMPORT_RUNS} fresh processes each:`);
  printTable(
    ["require", "ms"],
    [
      [`queue-patterns (${path.relative(process.cwd(), packageRoot) || "."})`, oursMs.toFixed(0)],
      ["@pulumi/aws", awsMs.toFixed(0)],
      ["ratio", ratio.toFixed(2)],
    ],
  );
  console.log(
    `target: import at most half of 84d5a68's (ratio ${IMPORT_RATIO_84D5A68} -> at most ${limit.toFixed(2)}): ` +
      `${ratio <= limit ? "met" : "NOT met"}`,
  );
}

/** Milliseconds to require `target` in a fresh process of `stackDir` that has loaded @pulumi/pulumi. */
function importMs(stackDir: string, target: string): number {
  const script = [
    'require("@pulumi/pulumi");',
    "const start = performance.now();",
    `require(${JSON.stringify(target)});`,
    "process.stdout.write(String(performance.now() - start));",
  ].join("\n");
  return Number(execFileSync(process.execPath, ["-e", script], { cwd: stackDir, encoding: "utf8" }));
}

function reportProgram(stackDir: string): void {
  const rows: string[][] = [];
  const times: Record<string, number[]> = { cold: [], warm: [], callback: [] };
  for (const count of COUNTS) {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-bench-cache-"));
    try {
      times.cold.push(programMs(stackDir, "fifo-ingester", count, cacheDir));
      times.warm.push(programMs(stackDir, "fifo-ingester", count, cacheDir));
      times.callback.push(programMs(stackDir, "callback-function", count, cacheDir));
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  }
  const perComponent = (series: number[]) => (series[series.length - 1] - series[0]) / (COUNTS.at(-1)! - COUNTS[0]);
  const labels: Record<string, string> = {
    cold: "FifoIngester, cold cache",
    warm: "FifoIngester, warm cache",
    callback: "CallbackFunction",
  };
  for (const [series, label] of Object.entries(labels)) {
    rows.push([label, ...times[series].map((ms) => ms.toFixed(0)), perComponent(times[series]).toFixed(0)]);
  }
  console.log("\nProgram time under mocks (ms), each in a fresh process:");
  printTable(["program", ...COUNTS.map((count) => `${count}`), "per component"], rows);
  const callback = perComponent(times.callback);
  const warm = perComponent(times.warm) / callback;
  const cold = perComponent(times.cold) / callback;
  console.log(
    `target: warm cache per component at most ${WARM_TARGET * 100}% of CallbackFunction's per function: ` +
      `${(warm * 100).toFixed(0)}%, ${warm <= WARM_TARGET ? "met" : "NOT met"}`,
  );
  console.log(
    `target: cold cache per component at most CallbackFunction's per function: ` +
      `${(cold * 100).toFixed(0)}%, ${cold <= COLD_TARGET ? "met" : "NOT met"}`,
  );
}

/** One program's time (bench/preview-program.ts) in a fresh process of `stackDir`, the cache in `cacheDir`. */
function programMs(stackDir: string, subject: Subject, count: number, cacheDir: string): number {
  const program = path.join(__dirname, "preview-program.js");
  const output = execFileSync(process.execPath, [program, subject, String(count)], {
    cwd: stackDir,
    encoding: "utf8",
    env: { ...process.env, QUEUE_PATTERNS_CACHE_DIR: cacheDir, QUEUE_PATTERNS_CACHE: "on" },
  });
  return (JSON.parse(output.trim().split("\n").at(-1)!) as { programMs: number }).programMs;
}

/** A folder like a user's stack: a package.json listing Pulumi's packages, node_modules linked to ours. */
function typicalStackFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-bench-preview-"));
  const modules = path.join(repositoryRoot, "node_modules");
  const dependencies: Record<string, string> = {};
  for (const name of ["@pulumi/pulumi", "@pulumi/aws"]) {
    const { version } = JSON.parse(fs.readFileSync(path.join(modules, name, "package.json"), "utf8")) as {
      version: string;
    };
    dependencies[name] = `^${version}`;
  }
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench-stack", dependencies }, null, 2));
  fs.symlinkSync(modules, path.join(dir, "node_modules"), "dir");
  return dir;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
