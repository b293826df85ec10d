/**
 * `npm run bench -- packaging`: for one callback that imports `@aws-sdk/client-sqs`, compares this
 * library's artifact with the archive `aws.lambda.CallbackFunction` builds by default (the serialized
 * function plus every package of the program's `dependencies`, transitively), measured in one run:
 * - archive bytes: both zipped by the same zipper at the same level, so only the contents differ;
 * - cold start: a fresh `node` process in an empty folder that loads the entry and invokes it once,
 *   with SQS answered by a local stub, timed from spawn to the result.
 * Targets (from the foundation issue): archive at most 5% of CallbackFunction's, cold start at most 50%.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { zipBytes, zipDeterministic } from "../components/artifact";
import { sqsSender } from "../test/fixtures/callbacks";
import { assertNoNodeModulesAbove, unpack } from "../test/harness/artifact-runner";
import { listenOnLoopback } from "../test/harness/loopback-server";
import { installMocks, type ResourceRecorder, resolve } from "../test/harness/mocks";
import { type ColdStartReport, RESULT_MARKER } from "./packaging-coldstart";
import { printTable } from "./table";

const FUNCTION_TYPE = "aws:lambda/function:Function";
const GREETING = "hello";
const EVENT_BODY = "world";
/** Measured cold starts per archive (plus one discarded warm-up each), interleaved. */
const COLD_START_RUNS = 11;
const ARCHIVE_TARGET = 0.05;
const COLD_START_TARGET = 0.5;
/** The dependencies of a typical stack that defines this callback: Pulumi, its AWS provider, the SDK client. */
const TYPICAL_STACK_DEPENDENCIES = ["@pulumi/pulumi", "@pulumi/aws", "@aws-sdk/client-sqs"];

/** An archive under test: its files, its zip and how the platform enters it. */
interface Subject {
  label: string;
  files: Record<string, Uint8Array>;
  zip: Uint8Array;
  /** The file the Lambda handler setting points at (`index.handler` / `__index.handler`). */
  entryFile: string;
}

/** One fresh process: spawn to result, and the child's own timings of require(entry) and the first call. */
interface ColdStart {
  wallMs: number;
  loadMs: number;
  invokeMs: number;
}

interface ColdStarts {
  /** Unpacking the zip into the empty folder, once, before any process starts: not part of a cold start. */
  unpackMs: number;
  runs: ColdStart[];
}

export async function run(): Promise<void> {
  const recorder = installMocks();
  const temps: string[] = [];
  const stub = await startSqsStub();
  try {
    const ours = await buildOurs();
    const callback = await buildCallbackFunction(recorder, "bench-callback", typicalStackFolder(temps));
    const repoShipment = await repositoryShipment(recorder);

    const queueUrl = `${stub.endpoint}/123456789012/bench`;
    const env = {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      AWS_ENDPOINT_URL: stub.endpoint,
    };
    const event = { queueUrl, body: EVENT_BODY };
    const runs = await measureColdStarts([ours, callback], event, env, stub);

    printReport(ours, callback, runs, repoShipment, stub.requests);
  } finally {
    await stub.close();
    for (const dir of temps) removeFolder(dir);
  }
}

/** (a) This library's artifact, built through `LambdaFunction` as a component would. */
async function buildOurs(): Promise<Subject> {
  const { LambdaFunction } = require("../components/lambda-function") as typeof import("../components/lambda-function");
  const fn = new LambdaFunction("bench-ours", { callbacks: { handler: sqsSender(GREETING) } });
  const artifact = await resolve(fn.artifact);
  const files: Record<string, Uint8Array> = {};
  for (const [name, content] of Object.entries(artifact.files)) files[name] = Buffer.from(content, "utf8");
  return { label: "ours", files, zip: zipBytes(artifact), entryFile: "index.js" };
}

/**
 * A project folder like a user's stack: a package.json listing only the typical dependencies, and
 * node_modules linked to this repository's installed tree (so versions match ours exactly).
 */
function typicalStackFolder(temps: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-bench-stack-"));
  temps.push(dir);
  const repoModules = path.join(repositoryRoot(), "node_modules");
  const dependencies: Record<string, string> = {};
  for (const name of TYPICAL_STACK_DEPENDENCIES) {
    dependencies[name] = `^${readJson(path.join(repoModules, name, "package.json")).version}`;
  }
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "typical-stack", private: true, dependencies }, null, 2),
  );
  fs.symlinkSync(repoModules, path.join(dir, "node_modules"), "dir");
  return dir;
}

/** (b) `aws.lambda.CallbackFunction`'s default archive for the same callback, from the stack folder `workDir`. */
async function buildCallbackFunction(recorder: ResourceRecorder, name: string, workDir: string): Promise<Subject> {
  const files = await materialize(await callbackFunctionCode(recorder, name, workDir), workDir);
  return { label: "CallbackFunction", files, zip: zipDeterministic(files), entryFile: "__index.js" };
}

/** What CallbackFunction would ship for the same callback from this repository's own package.json. */
async function repositoryShipment(
  recorder: ResourceRecorder,
): Promise<{ packages: number; files: number; bytes: number }> {
  const root = repositoryRoot();
  const sources = await archiveSources(await callbackFunctionCode(recorder, "bench-callback-repo", root), root);
  let bytes = 0;
  for (const source of sources.values()) {
    bytes += "text" in source ? Buffer.byteLength(source.text) : fs.statSync(source.file).size;
  }
  return { packages: packagesIn([...sources.keys()]).length, files: sources.size, bytes };
}

/**
 * The `code` archive a CallbackFunction for the callback gets when `workDir` is the program's folder:
 * Pulumi lists the packages to ship from the package.json it finds there, by paths relative to it.
 */
async function callbackFunctionCode(recorder: ResourceRecorder, name: string, workDir: string): Promise<unknown> {
  const aws = require("@pulumi/aws") as typeof import("@pulumi/aws");
  const previous = process.cwd();
  process.chdir(workDir);
  try {
    new aws.lambda.CallbackFunction(name, { callback: sqsSender(GREETING), role: "arn:aws:iam::123456789012:role/x" });
    return await recordedInput(recorder, name, "code");
  } finally {
    process.chdir(previous);
  }
}

/** Waits until the mock engine has recorded the named function, and returns one of its inputs. */
async function recordedInput(recorder: ResourceRecorder, name: string, input: string): Promise<unknown> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const recorded = recorder.ofType(FUNCTION_TYPE).find((r) => r.name === name);
    if (recorded) return recorded.inputs[input];
    if (Date.now() > deadline)
      throw new Error(`the mock engine recorded no ${FUNCTION_TYPE} named ${name} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Where one archive file's bytes come from: a file on disk or text in memory. */
type FileSource = { file: string } | { text: string };

/**
 * The files of an asset or archive as the engine would upload them, by archive path. Relative paths
 * are relative to the program's folder `base`. Symlinked files are followed; symlinked folders are
 * skipped, as the engine's directory archives do.
 */
async function archiveSources(value: unknown, base: string, prefix = ""): Promise<Map<string, FileSource>> {
  const sources = new Map<string, FileSource>();
  if (value instanceof pulumi.asset.AssetArchive) {
    for (const [name, member] of Object.entries(await value.assets)) {
      for (const [file, source] of await archiveSources(member, base, joinArchivePath(prefix, name)))
        sources.set(file, source);
    }
  } else if (value instanceof pulumi.asset.StringAsset) {
    sources.set(prefix, { text: await value.text });
  } else if (value instanceof pulumi.asset.FileAsset) {
    sources.set(prefix, { file: path.resolve(base, await value.path) });
  } else if (value instanceof pulumi.asset.FileArchive) {
    const folder = path.resolve(base, await value.path);
    if (!fs.statSync(folder).isDirectory()) throw new Error(`${folder}: only folder archives are expected here`);
    for (const file of filesUnder(folder)) sources.set(joinArchivePath(prefix, path.relative(folder, file)), { file });
  } else {
    throw new Error(`cannot read an archive member of kind ${Object.prototype.toString.call(value)}`);
  }
  return sources;
}

async function materialize(value: unknown, base: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const [name, source] of await archiveSources(value, base)) {
    files[name] = "text" in source ? Buffer.from(source.text, "utf8") : fs.readFileSync(source.file);
  }
  return files;
}

function joinArchivePath(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}/${name.split(path.sep).join("/")}`;
}

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(full));
    else if (entry.isFile()) found.push(full);
    else if (entry.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isFile()) found.push(full);
  }
  return found;
}

function unpackedBytes(files: Record<string, Uint8Array>): number {
  return Object.values(files).reduce((sum, bytes) => sum + bytes.byteLength, 0);
}

// --- cold start -------------------------------------------------------------------------------

interface SqsStub {
  endpoint: string;
  /** SendMessage calls answered, by message id. */
  requests: Map<string, string>;
  close(): Promise<void>;
}

/**
 * Answers SQS SendMessage over the AWS JSON 1.0 protocol the SDK v3 speaks. The SDK checks
 * MD5OfMessageBody, so the stub computes it from the body it received.
 */
async function startSqsStub(): Promise<SqsStub> {
  const requests = new Map<string, string>();
  const server = await listenOnLoopback((request, body, response) => {
    const target = request.headers["x-amz-target"];
    const respond = (status: number, payload: unknown) => {
      response.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
      response.end(JSON.stringify(payload));
    };
    if (target !== "AmazonSQS.SendMessage") {
      respond(400, {
        __type: "com.amazonaws.sqs#UnsupportedOperation",
        message: `the bench stub answers SendMessage only, got ${target}`,
      });
      return;
    }
    const { MessageBody } = JSON.parse(body) as { MessageBody: string };
    const messageId = randomUUID();
    requests.set(messageId, MessageBody);
    respond(200, {
      MessageId: messageId,
      MD5OfMessageBody: createHash("md5").update(MessageBody, "utf8").digest("hex"),
    });
  });
  return { endpoint: server.url, requests, close: server.stop };
}

/**
 * Unpacks each archive once into its own fresh empty folder, then runs fresh processes on both
 * alternately (ABBA...), after one discarded warm-up each. A process leaves its folder unchanged,
 * so every run starts from the same files.
 */
async function measureColdStarts(
  subjects: Subject[],
  event: unknown,
  env: Record<string, string>,
  stub: SqsStub,
): Promise<Map<Subject, ColdStarts>> {
  const folders = new Map<Subject, string>();
  const results = new Map<Subject, ColdStarts>();
  try {
    for (const subject of subjects) {
      const started = performance.now();
      const dir = unpack(subject.zip);
      folders.set(subject, dir);
      results.set(subject, { unpackMs: performance.now() - started, runs: [] });
      // CallbackFunction's archive carries its own node_modules; nothing above the folder may add more.
      assertNoNodeModulesAbove(path.dirname(dir));
    }
    const once = (subject: Subject) => coldStart(subject, folders.get(subject) as string, event, env, stub);
    for (const subject of subjects) await once(subject);
    for (let round = 0; round < COLD_START_RUNS; round++) {
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      for (const subject of order) results.get(subject)?.runs.push(await once(subject));
    }
    return results;
  } finally {
    for (const dir of folders.values()) removeFolder(dir);
  }
}

/** One cold start: a new node process in the unpacked folder loads the entry and invokes it once. */
async function coldStart(
  subject: Subject,
  dir: string,
  event: unknown,
  env: Record<string, string>,
  stub: SqsStub,
): Promise<ColdStart> {
  const script = path.join(__dirname, "packaging-coldstart.js");
  const started = performance.now();
  const child = spawn(process.execPath, [script, dir, subject.entryFile, JSON.stringify(event)], {
    cwd: dir,
    // HOME is the archive's folder so neither process finds shared AWS config files.
    env: { ...env, HOME: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { report, wallMs } = await resultOf(child, started, subject.label);
  if (report.error !== undefined) throw new Error(`${subject.label}: the handler failed: ${report.error}`);
  const messageId = (report.result as { messageId?: string } | undefined)?.messageId;
  if (messageId === undefined || stub.requests.get(messageId) !== `${GREETING} ${EVENT_BODY}`) {
    throw new Error(
      `${subject.label}: the handler did not send "${GREETING} ${EVENT_BODY}" through the stub: ${JSON.stringify(report.result)}`,
    );
  }
  return { wallMs, loadMs: report.loadMs, invokeMs: report.invokeMs };
}

function resultOf(
  child: ChildProcess,
  started: number,
  label: string,
): Promise<{ report: ColdStartReport; wallMs: number }> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let result: { report: ColdStartReport; wallMs: number } | undefined;
    const timer = setTimeout(() => child.kill(), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      const now = performance.now();
      stdout += chunk.toString();
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARKER));
      if (line && !result) result = { report: JSON.parse(line.slice(RESULT_MARKER.length)), wallMs: now - started };
    });
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else
        reject(new Error(`${label}: the cold start process exited with ${code} without a result:\n${stdout}${stderr}`));
    });
  });
}

// --- report -----------------------------------------------------------------------------------

function printReport(
  ours: Subject,
  callback: Subject,
  coldStarts: Map<Subject, ColdStarts>,
  repoShipment: { packages: number; files: number; bytes: number },
  requests: Map<string, string>,
): void {
  const runsOf = (subject: Subject) => coldStarts.get(subject)?.runs ?? [];
  const median = (subject: Subject, pick: (run: ColdStart) => number) => medianOf(runsOf(subject).map(pick));
  const unpackMs = (subject: Subject) => coldStarts.get(subject)?.unpackMs ?? Number.NaN;
  const rows: Row[] = [
    row(
      "archive bytes (zip, level 9, same zipper)",
      ours.zip.byteLength,
      callback.zip.byteLength,
      formatBytes,
      ARCHIVE_TARGET,
    ),
    row(
      "cold start ms (spawn -> first result, median)",
      median(ours, (r) => r.wallMs),
      median(callback, (r) => r.wallMs),
      formatMs,
      COLD_START_TARGET,
    ),
    row(
      "  of which require(entry) ms, median",
      median(ours, (r) => r.loadMs),
      median(callback, (r) => r.loadMs),
      formatMs,
    ),
    row(
      "  of which first invocation ms, median",
      median(ours, (r) => r.invokeMs),
      median(callback, (r) => r.invokeMs),
      formatMs,
    ),
    row("unpack zip into the empty folder ms (not in cold start)", unpackMs(ours), unpackMs(callback), formatMs),
    row("unpacked bytes", unpackedBytes(ours.files), unpackedBytes(callback.files), formatBytes),
    row("files", Object.keys(ours.files).length, Object.keys(callback.files).length, (n) => String(n)),
  ];
  printTable(["metric", "ours", "CallbackFunction", "ratio", "target", "met?"], rows);

  const packages = packagesIn(Object.keys(callback.files));
  console.log("");
  console.log(
    `Callback: sqsSender("${GREETING}") from test/fixtures/callbacks.ts (imports @aws-sdk/client-sqs), invoked once per run with SQS answered by a stub on 127.0.0.1 (${requests.size} SendMessage calls verified).`,
  );
  console.log(
    `Cold start: ${COLD_START_RUNS} measured runs each after one warm-up, interleaved ABBA; each archive is unpacked once into a fresh empty temp folder (no node_modules above) and each run spawns a new node ${process.version} there.`,
  );
  for (const subject of [ours, callback]) {
    const walls = runsOf(subject).map((r) => Math.round(r.wallMs));
    console.log(`  ${subject.label} runs (ms): ${walls.join(", ")}`);
  }
  console.log(
    `CallbackFunction baseline: the stack folder's package.json lists ${TYPICAL_STACK_DEPENDENCIES.join(", ")} (node_modules linked to this repository's), ` +
      `so it ships __index.js + ${packages.length} packages (@pulumi/* excluded by Pulumi): ${packages.join(", ")}.`,
  );
  console.log(
    `For information: from this repository's own package.json, CallbackFunction would ship ${repoShipment.packages} packages, ` +
      `${repoShipment.files} files, ${formatBytes(repoShipment.bytes)} unpacked.`,
  );
}

/** Top-level package folders in an archive, e.g. `@aws-sdk/client-sqs`, `tslib`. */
function packagesIn(files: string[]): string[] {
  const names = new Set<string>();
  for (const file of files) {
    const match = file.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (match) names.add(match[1]);
  }
  return [...names].sort();
}

type Row = [string, string, string, string, string, string];

function row(metric: string, ours: number, baseline: number, format: (n: number) => string, target?: number): Row {
  const ratio = ours / baseline;
  const targetText = target === undefined ? "-" : `<= ${formatPercent(target)}`;
  const met = target === undefined ? "-" : ratio <= target ? "yes" : "NO";
  return [metric, format(ours), format(baseline), formatPercent(ratio), targetText, met];
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(2)} MiB (${bytes.toLocaleString("en-US")})`
    : `${bytes.toLocaleString("en-US")} B`;
}

function formatMs(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 2 : 1)}%`;
}

// --- helpers ----------------------------------------------------------------------------------

function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

function readJson(file: string): { version: string } {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** Removes a temp folder; rmSync unlinks a symlink inside (the linked node_modules) without following it. */
function removeFolder(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
