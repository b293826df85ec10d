/**
 * `npm run bench -- packaging`: for two callbacks (one that imports `@aws-sdk/client-sqs`; one shaped
 * like a production handler, with SQS, Secrets Manager and ajv), compares this library's artifact
 * (bundled SDK, and `awsSdk: "runtime"`) with the archive `aws.lambda.CallbackFunction` builds by
 * default (the serialized function plus every package of the program's `dependencies`), in one run:
 * - archive bytes: all zipped by the same zipper at the same level, so only the contents differ;
 * - cold start: a fresh process of the official Node.js build of each Lambda runtime (22, 24), in the
 *   unpacked folder, loads the entry and invokes it once, with the services answered by a local
 *   stub; timed from spawn to the result, with the files in the page cache (warm) and evicted from
 *   it before the run (cold, as a new sandbox reads them from disk).
 * Targets: archive at most 5% of CallbackFunction's; cold-cache cold start at most 50%; first
 * invocation at most CallbackFunction's.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as tls from "node:tls";
import type { lambda } from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { buildArtifact, runtimeEntry, ZIP_LEVEL, zipBytes, zipDeterministic } from "../components/core/artifact";
import { runtimeFactory } from "../components/core/runtime-factory";
import type { AwsSdkSource, LambdaNodeRuntime } from "../components/aws/lambda-function";
import { orderForwarder, signedOrderBody, sqsSender } from "../test/fixtures/callbacks";
import { assertNoNodeModulesAbove, declaredMajorOf, unpack } from "../testing/artifact-runner";
import { listenOnLoopback } from "../testing/loopback-server";
import { type NodeBuild, nodeBuild } from "../test/harness/node-builds";
import { type ColdStartReport, LOADED_MARKER, RESULT_MARKER } from "./packaging-coldstart";
import { type BenchMocks, installBenchMocks, resolveOutput } from "./mocks";
import { printTable } from "./table";

const FUNCTION_TYPE = "aws:lambda/function:Function";
/** LambdaFunction's entry when a function has no runtime of its own: the callback is the handler. */
const plainCallbackRuntime = runtimeFactory<typeof import("../runtime/lambda-function")>(
  require.resolve("../runtime/lambda-function"),
)("createHandler");
/** Measured cold starts per archive and page-cache state (plus one discarded warm-up each), interleaved. */
const COLD_START_RUNS = 11;
const ARCHIVE_TARGET = 0.05;
const COLD_START_TARGET = 0.5;
const FIRST_INVOCATION_TARGET = 1;
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
/** The stack's own packages every callback's stack lists besides what the callback imports. */
const STACK_PACKAGES = ["@pulumi/pulumi", "@pulumi/aws"];
/** The SDK clients the Lambda runtime preinstalls that the callbacks use (for `awsSdk: "runtime"`). */
const RUNTIME_SDK_CLIENTS = ["@aws-sdk/client-sqs", "@aws-sdk/client-secrets-manager"];
const SIGNING_KEY = { name: "bench-signing-key", value: "bench-signing-key-value" };

/** A callback under test: how to make it, what its stack lists, the event it gets and the message it must send. */
interface BenchCallback {
  name: string;
  description: string;
  make(): (...args: never[]) => unknown;
  /** The packages the callback imports, listed in the stack's package.json besides Pulumi's. */
  imports: string[];
  event(queueUrl: string): unknown;
  /** The body the SendMessage call must carry. */
  expectedBody(event: unknown): string;
}

const GREETING = "hello";
const ORDER = {
  orderId: "ORD-2026-000417",
  customerId: "cust-88",
  currency: "EUR",
  lines: [
    { sku: "A-100", quantity: 2, unitPriceCents: 1250 },
    { sku: "B-7", quantity: 1 },
  ],
};

const CALLBACKS: BenchCallback[] = [
  {
    name: "sqsSender",
    description: `sqsSender("${GREETING}") from test/fixtures/callbacks.ts: one SQSClient, one SendMessage`,
    make: () => sqsSender(GREETING),
    imports: ["@aws-sdk/client-sqs"],
    event: (queueUrl) => ({ queueUrl, body: "world" }),
    expectedBody: (event) => `${GREETING} ${(event as { body: string }).body}`,
  },
  {
    name: "orderForwarder",
    description:
      "orderForwarder from test/fixtures/callbacks.ts: validates the order against ORDER_SCHEMA with ajv, " +
      "reads a signing key with GetSecretValue (SecretsManagerClient), signs the order and sends it with SendMessage (SQSClient)",
    make: () => orderForwarder({ signingKeySecretId: SIGNING_KEY.name }),
    imports: ["@aws-sdk/client-sqs", "@aws-sdk/client-secrets-manager", "ajv"],
    event: (queueUrl) => ({ queueUrl, order: ORDER }),
    expectedBody: (event) => signedOrderBody((event as { order: unknown }).order, SIGNING_KEY.value),
  },
];

/** An archive under test: its files, its zip and how the platform enters it. */
interface Subject {
  label: string;
  files: Record<string, Uint8Array>;
  zip: Uint8Array;
  /** The file the Lambda handler setting points at (`index.handler` / `__index.handler`). */
  entryFile: string;
}

/** One fresh process: spawn to result, and the child's own timings (start-up, require(entry), first call, CPU). */
interface ColdStart {
  wallMs: number;
  startupMs: number;
  loadMs: number;
  invokeMs: number;
  cpuMs: number;
}

interface Measured {
  /** Unpacking the zip into the empty folder, once, before any process starts: not part of a cold start. */
  unpackMs: number;
  /** Files the process reads (modules loaded and the package.json files of their folders): evicted before a cold run. */
  readFiles: string[];
  warm: ColdStart[];
  cold: ColdStart[];
}

/** One table: a callback on one Node.js major, three archives. */
interface Comparison {
  callback: BenchCallback;
  node: NodeBuild;
  ours: Subject;
  oursRuntimeSdk: Subject;
  callbackFunction: Subject;
  measured: Map<Subject, Measured>;
}

export async function run(): Promise<void> {
  const recorder = installBenchMocks();
  const temps: string[] = [];
  const stub = await startServiceStub();
  try {
    const runtimeSdk = await runtimeSdkFolder(temps);
    const comparisons: Comparison[] = [];
    for (const callback of CALLBACKS) {
      const stackDir = typicalStackFolder(temps, [...STACK_PACKAGES, ...callback.imports]);
      const callbackFunction = await buildCallbackFunction(recorder, `bench-${callback.name}`, callback, stackDir);
      for (const runtime of lambdaRuntimes()) {
        const ours = await buildOurs(callback, runtime, "bundle");
        const oursRuntimeSdk = await buildOurs(callback, runtime, "runtime");
        const env = lambdaEnvironment(runtime, stub.endpoint, runtimeSdk);
        const event = callback.event(`${stub.endpoint}/${ACCOUNT}/bench`);
        const subjects = [ours, oursRuntimeSdk, callbackFunction];
        const { node, measured } = await measureColdStarts(subjects, callback, event, env, stub);
        comparisons.push({ callback, node, ours, oursRuntimeSdk, callbackFunction, measured });
      }
    }
    const repoShipment = await repositoryShipment(recorder);
    printReport(comparisons, repoShipment, runtimeSdk, stub);
    await reportSourceMaps(runtimeSdk, stub);
  } finally {
    await stub.close();
    for (const dir of temps) removeFolder(dir);
  }
}

/** `npm run bench -- source-maps`: only what `sourceMap` costs (the last section of the packaging bench). */
export async function runSourceMaps(): Promise<void> {
  installBenchMocks();
  const temps: string[] = [];
  const stub = await startServiceStub();
  try {
    await reportSourceMaps(await runtimeSdkFolder(temps), stub);
  } finally {
    await stub.close();
    for (const dir of temps) removeFolder(dir);
  }
}

/**
 * What `sourceMap` costs: for each callback and runtime, the archive LambdaFunction builds (plain
 * entry, bundled SDK) without and with a source map, its size and its cold start, measured alike.
 */
async function reportSourceMaps(runtimeSdk: RuntimeSdk, stub: ServiceStub): Promise<void> {
  const rows: string[][] = [];
  for (const callback of CALLBACKS) {
    for (const runtime of lambdaRuntimes()) {
      const plain = await buildWithSourceMap(callback, runtime, false);
      const mapped = await buildWithSourceMap(callback, runtime, true);
      const env = lambdaEnvironment(runtime, stub.endpoint, runtimeSdk);
      const event = callback.event(`${stub.endpoint}/${ACCOUNT}/bench`);
      const { node, measured } = await measureColdStarts([plain, mapped], callback, event, env, stub);
      const label = `${callback.name}, Node.js ${node.version}`;
      const pair = (value: (s: Subject) => number, format: (n: number) => string) => {
        const [without, withMap] = [value(plain), value(mapped)];
        return [format(without), format(withMap), `${((withMap / without - 1) * 100).toFixed(0)}%`];
      };
      const medianOf = (runs: (m: Measured) => ColdStart[]) => (s: Subject) =>
        spread(runs(measured.get(s) as Measured).map((run) => run.wallMs)).value;
      rows.push([`${label}: archive bytes`, ...pair((s) => s.zip.byteLength, formatBytes)]);
      rows.push([`${label}: unpacked bytes`, ...pair((s) => unpackedBytes(s.files), formatBytes)]);
      rows.push([
        `${label}: cold start, warm page cache`,
        ...pair(
          medianOf((m) => m.warm),
          formatMs,
        ),
      ]);
      rows.push([
        `${label}: cold start, cold page cache`,
        ...pair(
          medianOf((m) => m.cold),
          formatMs,
        ),
      ]);
    }
  }
  console.log("\nSource maps (`sourceMap: true`: bundle.js + bundle.js.map, source maps enabled by index.js):");
  printTable(["metric", "without", "with source map", "change"], rows);
  console.log(
    `Cold start: spawn to first result, median of ${COLD_START_RUNS} runs each, interleaved, as above; ` +
      "the map is evicted with the modules in cold-page-cache runs.",
  );
}

/** LambdaFunction's artifact for `callback` (plain entry, bundled SDK), with or without a source map. */
async function buildWithSourceMap(
  callback: BenchCallback,
  runtime: LambdaNodeRuntime,
  sourceMap: boolean,
): Promise<Subject> {
  const { LAMBDA_NODE_MAJOR } =
    require("../components/aws/lambda-function") as typeof import("../components/aws/lambda-function");
  const artifact = await buildArtifact({
    owner: `Bench "${callback.name}"`,
    host: "aws-lambda",
    entry: runtimeEntry(plainCallbackRuntime, undefined),
    callbacks: { handler: callback.make() },
    nodeMajor: LAMBDA_NODE_MAJOR[runtime],
    external: [],
    sourceMap,
  });
  const files: Record<string, Uint8Array> = {};
  for (const [file, content] of Object.entries(artifact.files)) files[file] = Buffer.from(content, "utf8");
  return { label: sourceMap ? "with source map" : "without", files, zip: zipBytes(artifact), entryFile: "index.js" };
}

/** The Lambda runtimes `LambdaFunction` supports, each deploying one Node.js major. */
function lambdaRuntimes(): LambdaNodeRuntime[] {
  const { LAMBDA_NODE_MAJOR } =
    require("../components/aws/lambda-function") as typeof import("../components/aws/lambda-function");
  return Object.keys(LAMBDA_NODE_MAJOR) as LambdaNodeRuntime[];
}

/** This library's artifact, built through `LambdaFunction` as a component would. */
async function buildOurs(callback: BenchCallback, runtime: LambdaNodeRuntime, awsSdk: AwsSdkSource): Promise<Subject> {
  const { LambdaFunction } =
    require("../components/aws/lambda-function") as typeof import("../components/aws/lambda-function");
  const name = `bench-${callback.name}-${runtime.replace(/\W/g, "")}-${awsSdk}`;
  const fn = new LambdaFunction(name, { runtime, awsSdk, callbacks: { handler: callback.make() } });
  const artifact = await resolveOutput(fn.artifact);
  const files: Record<string, Uint8Array> = {};
  for (const [file, content] of Object.entries(artifact.files)) files[file] = Buffer.from(content, "utf8");
  const label = awsSdk === "bundle" ? "ours" : 'ours, awsSdk "runtime"';
  return { label, files, zip: zipBytes(artifact), entryFile: "index.js" };
}

/**
 * A project folder like a user's stack: a package.json listing `packages`, and node_modules linked
 * to this repository's installed tree (so versions match ours exactly).
 */
function typicalStackFolder(temps: string[], packages: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-bench-stack-"));
  temps.push(dir);
  const repoModules = path.join(repositoryRoot(), "node_modules");
  const dependencies: Record<string, string> = {};
  for (const name of packages) {
    dependencies[name] = `^${readJson(path.join(repoModules, name, "package.json")).version}`;
  }
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "typical-stack", private: true, dependencies }, null, 2),
  );
  fs.symlinkSync(repoModules, path.join(dir, "node_modules"), "dir");
  return dir;
}

/**
 * `aws.lambda.CallbackFunction`'s default archive for the callback, from the stack folder `workDir`.
 * Its code is the same whatever the runtime, so one archive serves both Node majors.
 */
async function buildCallbackFunction(
  recorder: BenchMocks,
  name: string,
  callback: BenchCallback,
  workDir: string,
): Promise<Subject> {
  const code = await callbackFunctionCode(recorder, name, callback.make(), workDir);
  const files = await materialize(code, workDir);
  return { label: "CallbackFunction", files, zip: zipDeterministic(files), entryFile: "__index.js" };
}

/** What CallbackFunction would ship for the first callback from this repository's own package.json. */
async function repositoryShipment(recorder: BenchMocks): Promise<{ packages: number; files: number; bytes: number }> {
  const root = repositoryRoot();
  const code = await callbackFunctionCode(recorder, "bench-callback-repo", CALLBACKS[0].make(), root);
  const sources = await archiveSources(code, root);
  let bytes = 0;
  for (const source of sources.values()) {
    bytes += "text" in source ? Buffer.byteLength(source.text) : fs.statSync(source.file).size;
  }
  return { packages: packagesIn([...sources.keys()]).length, files: sources.size, bytes };
}

/**
 * The `code` archive a CallbackFunction for `callback` gets when `workDir` is the program's folder:
 * Pulumi lists the packages to ship from the package.json it finds there, by paths relative to it.
 */
async function callbackFunctionCode(
  recorder: BenchMocks,
  name: string,
  callback: (...args: never[]) => unknown,
  workDir: string,
): Promise<unknown> {
  const aws = require("@pulumi/aws") as typeof import("@pulumi/aws");
  return inFolder(workDir, async () => {
    new aws.lambda.CallbackFunction(name, {
      callback: callback as lambda.Callback<unknown, unknown>,
      role: `arn:aws:iam::${ACCOUNT}:role/x`,
    });
    return await recordedInput(recorder, name, "code");
  });
}

/** Runs `work` with `dir` as the working folder, where Pulumi looks for the program's package.json. */
async function inFolder<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const previous = process.cwd();
  process.chdir(dir);
  try {
    return await work();
  } finally {
    process.chdir(previous);
  }
}

/** Waits until the mock engine has recorded the named function, and returns one of its inputs. */
async function recordedInput(recorder: BenchMocks, name: string, input: string): Promise<unknown> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const recorded = recorder.resources.find((r) => r.type === FUNCTION_TYPE && r.name === name);
    if (recorded) return recorded.inputs[input];
    if (Date.now() > deadline)
      throw new Error(`the mock engine recorded no ${FUNCTION_TYPE} named ${name} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The SDK the Lambda runtime preinstalls, as a folder on NODE_PATH. */
interface RuntimeSdk {
  /** The folder NODE_PATH lists, as Lambda lists /var/runtime/node_modules. */
  nodeModules: string;
  packages: string[];
  files: number;
}

/**
 * Stands in for the Lambda runtime's preinstalled SDK v3 (/var/runtime/node_modules): the clients
 * the callbacks use and every package they depend on, copied (not linked) from this repository's
 * node_modules with Pulumi's own dependency walk, so the runtime reads them from its own files.
 */
async function runtimeSdkFolder(temps: string[]): Promise<RuntimeSdk> {
  const stackDir = typicalStackFolder(temps, RUNTIME_SDK_CLIENTS);
  const files = await inFolder(stackDir, async () => {
    const archive = new pulumi.asset.AssetArchive(Object.fromEntries(await pulumi.runtime.computeCodePaths()));
    return materialize(archive, stackDir);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-bench-lambda-runtime-"));
  temps.push(dir);
  for (const [name, bytes] of Object.entries(files)) {
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes);
  }
  return {
    nodeModules: path.join(dir, "node_modules"),
    packages: packagesIn(Object.keys(files)),
    files: Object.keys(files).length,
  };
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
    files[inStackFolder(name)] = "text" in source ? Buffer.from(source.text, "utf8") : fs.readFileSync(source.file);
  }
  return files;
}

/**
 * The bench stack's node_modules is a link to this repository's: Pulumi names the packages it reaches
 * through it by their real paths (`../../<repository>/node_modules/@aws-sdk/core/...`), where a real
 * stack's archive has them under its own `node_modules/`.
 */
function inStackFolder(archivePath: string): string {
  return archivePath.replace(/^(?:\.\.\/)+(?:[^/]+\/)*?node_modules\//, "node_modules/");
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

/**
 * The environment Lambda gives a Node.js function that the SDK and Node read
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
 * with every service endpoint pointed at the stub (whose certificate it trusts) and NODE_PATH at the
 * stand-in for the runtime's SDK.
 */
function lambdaEnvironment(
  runtime: LambdaNodeRuntime,
  endpoint: string,
  runtimeSdk: RuntimeSdk,
): Record<string, string> {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    TZ: ":UTC",
    LANG: "en_US.UTF-8",
    NODE_PATH: runtimeSdk.nodeModules,
    AWS_EXECUTION_ENV: `AWS_Lambda_${runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: "bench",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: "ASIABENCHBENCHBENCH0",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_SESSION_TOKEN: "bench",
    AWS_ENDPOINT_URL: endpoint,
    NODE_EXTRA_CA_CERTS: STUB_TLS.cert,
  };
}

interface ServiceStub {
  /** `https://127.0.0.1:<port>`: every SDK call on Lambda is HTTPS, so the first one includes a TLS handshake. */
  endpoint: string;
  /** SendMessage bodies answered, by message id. */
  sent: Map<string, string>;
  secretReads: number;
  close(): Promise<void>;
}

/**
 * Answers SQS SendMessage (AWS JSON 1.0, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)
 * and Secrets Manager GetSecretValue (AWS JSON 1.1, https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html).
 * The SDK checks MD5OfMessageBody, so the stub computes it from the body it received.
 */
async function startServiceStub(): Promise<ServiceStub> {
  const stub = { sent: new Map<string, string>(), secretReads: 0 };
  const secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SIGNING_KEY.name}-Ab12Cd`;
  const server = await listenOnLoopback((request, body, response) => {
    const target = request.headers["x-amz-target"];
    const respond = (status: number, protocol: "1.0" | "1.1", payload: unknown) => {
      response.writeHead(status, { "content-type": `application/x-amz-json-${protocol}` });
      response.end(JSON.stringify(payload));
    };
    if (target === "AmazonSQS.SendMessage") {
      const { MessageBody } = JSON.parse(body) as { MessageBody: string };
      const messageId = randomUUID();
      stub.sent.set(messageId, MessageBody);
      respond(200, "1.0", {
        MessageId: messageId,
        MD5OfMessageBody: createHash("md5").update(MessageBody, "utf8").digest("hex"),
      });
    } else if (target === "secretsmanager.GetSecretValue") {
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      if (SecretId !== SIGNING_KEY.name && SecretId !== secretArn) {
        respond(400, "1.1", {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      stub.secretReads++;
      respond(200, "1.1", {
        ARN: secretArn,
        Name: SIGNING_KEY.name,
        SecretString: SIGNING_KEY.value,
        VersionId: "a9a1b2c3-0000-4000-8000-000000000001",
        VersionStages: ["AWSCURRENT"],
        CreatedDate: 1767225600,
      });
    } else {
      respond(400, "1.0", {
        __type: "com.amazonaws.sqs#UnsupportedOperation",
        message: `the bench stub answers SendMessage and GetSecretValue only, got ${target}`,
      });
    }
  });
  const front = await tlsFrontOf(server.url);
  return Object.assign(stub, {
    endpoint: front.url,
    close: async () => {
      await front.stop();
      await server.stop();
    },
  });
}

/**
 * A self-signed certificate for 127.0.0.1 (RSA 2048, valid until 2126), made with `openssl req -x509
 * -newkey rsa:2048 -nodes -days 36500 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1`.
 * Only the benchmark's child processes trust it, through NODE_EXTRA_CA_CERTS.
 */
const STUB_TLS = {
  cert: path.join(repositoryRoot(), "bench", "stub-tls", "cert.pem"),
  key: path.join(repositoryRoot(), "bench", "stub-tls", "key.pem"),
};

/**
 * Terminates TLS on a loopback port and passes the bytes on to the plain HTTP server at `target`.
 * Both hops disable Nagle's algorithm, as Node's HTTP server does, so no write waits for a delayed ACK.
 */
async function tlsFrontOf(target: string): Promise<{ url: string; stop(): Promise<void> }> {
  const upstreamPort = Number(new URL(target).port);
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: fs.readFileSync(STUB_TLS.cert), key: fs.readFileSync(STUB_TLS.key), noDelay: true },
    (socket) => {
      const upstream = net.connect({ port: upstreamPort, host: "127.0.0.1", noDelay: true });
      for (const end of [socket, upstream]) {
        sockets.add(end);
        end.once("close", () => sockets.delete(end));
      }
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Unpacks each archive once into its own fresh empty folder, then runs fresh processes on all of them
 * alternately (ABC CBA ...), after one discarded warm-up each: in each turn a cold-cache run (the
 * files the warm-up read evicted first) and then a warm-cache one. A process leaves its folder
 * unchanged, so every run starts from the same files. Every archive runs on the Node.js build of the
 * major the first one declares; the others are built for the same runtime.
 */
async function measureColdStarts(
  subjects: Subject[],
  callback: BenchCallback,
  event: unknown,
  env: Record<string, string>,
  stub: ServiceStub,
): Promise<{ node: NodeBuild; measured: Map<Subject, Measured> }> {
  const folders = new Map<Subject, string>();
  const measured = new Map<Subject, Measured>();
  try {
    for (const subject of subjects) {
      const started = performance.now();
      const dir = unpack(subject.zip);
      folders.set(subject, dir);
      measured.set(subject, { unpackMs: performance.now() - started, readFiles: [], warm: [], cold: [] });
      // CallbackFunction's archive carries its own node_modules; nothing above the folder may add more.
      assertNoNodeModulesAbove(path.dirname(dir));
    }
    const node = nodeBuild(declaredMajorOf(folders.get(subjects[0]) as string));
    const once = (subject: Subject) =>
      coldStart(node, subject, folders.get(subject) as string, callback, event, env, stub);
    for (const subject of subjects) {
      const { loaded } = await once(subject);
      const folder = folders.get(subject) as string;
      // Node reads a source map beside the bundle too, when the archive ships one (`sourceMap`).
      const sourceMaps = filesUnder(folder).filter((file) => file.endsWith(".map"));
      (measured.get(subject) as Measured).readFiles = [...filesRead(loaded, [folder, env.NODE_PATH]), ...sourceMaps];
    }
    for (let round = 0; round < COLD_START_RUNS; round++) {
      for (const subject of round % 2 === 0 ? subjects : [...subjects].reverse()) {
        const results = measured.get(subject) as Measured;
        evictFromPageCache(results.readFiles);
        results.cold.push((await once(subject)).run);
        results.warm.push((await once(subject)).run);
      }
    }
    return { node, measured };
  } finally {
    for (const dir of folders.values()) removeFolder(dir);
  }
}

/**
 * The files of `roots` a process read: the modules it loaded, and every package.json in the
 * folders it loaded them from (Node reads those to resolve and to find each module's type).
 */
function filesRead(loaded: string[], roots: string[]): string[] {
  const read = new Set<string>();
  for (const root of roots) {
    const inRoot = loaded.filter((file) => file.startsWith(`${root}${path.sep}`));
    if (inRoot.length === 0) continue;
    for (const file of inRoot) read.add(file);
    for (const file of filesUnder(root)) if (path.basename(file) === "package.json") read.add(file);
  }
  return [...read].sort();
}

/**
 * Drops the files from the page cache, so the next process reads them from disk as a new sandbox
 * does. GNU dd's `oflag=nocache` with `count=0` calls posix_fadvise(POSIX_FADV_DONTNEED) on the whole
 * file after `conv=fdatasync` has written it back (dirty pages cannot be dropped), and fails if the
 * kernel refuses (https://www.gnu.org/software/coreutils/manual/html_node/dd-invocation.html). dd is
 * part of coreutils, on every Debian system.
 */
function evictFromPageCache(files: string[]): void {
  if (files.length === 0) return;
  const dropEach = 'for f do dd of="$f" oflag=nocache conv=notrunc,fdatasync count=0 status=none || exit 1; done';
  execFileSync("sh", ["-c", dropEach, "sh", ...files], { stdio: ["ignore", "ignore", "pipe"] });
}

/** One cold start: a new process of `node` in the unpacked folder loads the entry and invokes it once. */
async function coldStart(
  node: NodeBuild,
  subject: Subject,
  dir: string,
  callback: BenchCallback,
  event: unknown,
  env: Record<string, string>,
  stub: ServiceStub,
): Promise<{ run: ColdStart; loaded: string[] }> {
  const script = path.join(__dirname, "packaging-coldstart.js");
  const started = performance.now();
  const child = spawn(node.execPath, [script, dir, subject.entryFile, JSON.stringify(event)], {
    cwd: dir,
    // HOME is the archive's folder so no process finds shared AWS config files.
    env: { ...env, HOME: dir, LAMBDA_TASK_ROOT: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { report, wallMs, loaded } = await resultOf(child, started, subject.label);
  const failure = `${subject.label} on Node.js ${node.version}, ${callback.name}`;
  if (report.error !== undefined) throw new Error(`${failure}: the handler failed: ${report.error}`);
  const messageId = (report.result as { messageId?: string } | undefined)?.messageId;
  const expected = callback.expectedBody(event);
  if (messageId === undefined || stub.sent.get(messageId) !== expected) {
    throw new Error(
      `${failure}: the handler did not send ${JSON.stringify(expected)} through the stub: ${JSON.stringify(report.result)}`,
    );
  }
  const { startupMs, loadMs, invokeMs, cpuMs } = report;
  return { run: { wallMs, startupMs, loadMs, invokeMs, cpuMs }, loaded };
}

function resultOf(
  child: ChildProcess,
  started: number,
  label: string,
): Promise<{ report: ColdStartReport; wallMs: number; loaded: string[] }> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let result: { report: ColdStartReport; wallMs: number } | undefined;
    const timer = setTimeout(() => child.kill(), 60_000);
    const lineAfter = (marker: string) =>
      stdout
        .split("\n")
        .find((l) => l.startsWith(marker))
        ?.slice(marker.length);
    child.stdout?.on("data", (chunk: Buffer) => {
      const now = performance.now();
      stdout += chunk.toString();
      const line = lineAfter(RESULT_MARKER);
      if (line !== undefined && !result) result = { report: JSON.parse(line), wallMs: now - started };
    });
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const loaded = lineAfter(LOADED_MARKER);
      if (result && loaded !== undefined) resolve({ ...result, loaded: JSON.parse(loaded) });
      else
        reject(new Error(`${label}: the cold start process exited with ${code} without a result:\n${stdout}${stderr}`));
    });
  });
}

// --- report -----------------------------------------------------------------------------------

function printReport(
  comparisons: Comparison[],
  repoShipment: { packages: number; files: number; bytes: number },
  runtimeSdk: RuntimeSdk,
  stub: ServiceStub,
): void {
  for (const comparison of comparisons) {
    const { callback, node } = comparison;
    console.log(`\n### ${callback.name} on Node.js ${node.version} (runtime nodejs${node.major}.x)\n`);
    printTable(
      ["metric", "ours", 'ours, awsSdk "runtime"', "CallbackFunction", "ours / CF", "runtime / CF", "target", "met?"],
      comparisonRows(comparison),
    );
  }
  console.log("");
  for (const callback of CALLBACKS) console.log(`Callback ${callback.description}.`);
  console.log(
    `Each invoked once per run, with SQS and Secrets Manager answered over HTTPS by a stub on 127.0.0.1 (${stub.sent.size} SendMessage bodies verified, ${stub.secretReads} GetSecretValue calls).`,
  );
  console.log(
    `Cold start: ${COLD_START_RUNS} measured runs per archive and page-cache state after one warm-up, interleaved ABC CBA; each archive is unpacked once into a fresh empty temp folder ` +
      "(no node_modules above) and each run spawns the official Node.js build of the runtime there, with Lambda's environment variables. " +
      "Cold cache: before the run, the files the warm-up read (its modules and the package.json files of their folders) are evicted from the page cache " +
      "(dd oflag=nocache: posix_fadvise DONTNEED); the Node.js binary and the file-system metadata stay cached. " +
      "Node.js start-up: from the process's start (performance.timeOrigin) to the harness's first line; CPU: process.cpuUsage() of the whole process at the first result. " +
      "Cells: median (min-max).",
  );
  const callbackFunction = comparisons[0].callbackFunction;
  console.log(
    `CallbackFunction baseline: the stack folder's package.json lists ${STACK_PACKAGES.join(", ")} and what the callback imports (node_modules linked to this repository's); ` +
      `for ${CALLBACKS[0].name} it ships __index.js + ${packagesIn(Object.keys(callbackFunction.files)).length} packages (@pulumi/* excluded by Pulumi).`,
  );
  console.log(
    `awsSdk "runtime": the SDK comes from a folder on NODE_PATH standing in for the Lambda runtime's /var/runtime/node_modules ` +
      `(${RUNTIME_SDK_CLIENTS.join(", ")} and their dependencies: ${runtimeSdk.packages.length} packages, ${runtimeSdk.files} files), evicted too in cold-cache runs.`,
  );
  console.log(
    `For information: from this repository's own package.json, CallbackFunction would ship ${repoShipment.packages} packages, ` +
      `${repoShipment.files} files, ${formatBytes(repoShipment.bytes)} unpacked.`,
  );
}

type Row = [string, string, string, string, string, string, string, string];

function comparisonRows(comparison: Comparison): Row[] {
  const { ours, oursRuntimeSdk, callbackFunction, measured } = comparison;
  const subjects = [ours, oursRuntimeSdk, callbackFunction];
  const of = (subject: Subject) => measured.get(subject) as Measured;
  const sizeRow = (metric: string, value: (s: Subject) => number, format: (n: number) => string, target?: number) =>
    row(
      metric,
      subjects.map(value).map((v) => ({ value: v, text: format(v) })),
      target,
    );
  const timeRow = (
    metric: string,
    runs: (m: Measured) => ColdStart[],
    pick: (run: ColdStart) => number,
    target?: number,
  ) =>
    row(
      metric,
      subjects.map((subject) => spread(runs(of(subject)).map(pick))),
      target,
    );
  const rows: Row[] = [
    sizeRow(
      `archive bytes (zip, level ${ZIP_LEVEL}, same zipper)`,
      (s) => s.zip.byteLength,
      formatBytes,
      ARCHIVE_TARGET,
    ),
    sizeRow("unpacked bytes", (s) => unpackedBytes(s.files), formatBytes),
    sizeRow(
      "files",
      (s) => Object.keys(s.files).length,
      (n) => String(n),
    ),
    sizeRow("unpack zip into the empty folder ms (not in cold start)", (s) => of(s).unpackMs, formatMs),
  ];
  for (const [cache, runs] of [
    ["warm", (m: Measured) => m.warm],
    ["cold", (m: Measured) => m.cold],
  ] as const) {
    rows.push(
      timeRow(
        `${cache} cache: cold start ms (spawn -> first result)`,
        runs,
        (r) => r.wallMs,
        cache === "cold" ? COLD_START_TARGET : undefined,
      ),
      timeRow(`  ${cache} cache: of which Node.js start-up ms`, runs, (r) => r.startupMs),
      timeRow(`  ${cache} cache: of which require(entry) ms`, runs, (r) => r.loadMs),
      timeRow(`  ${cache} cache: of which first invocation ms`, runs, (r) => r.invokeMs, FIRST_INVOCATION_TARGET),
      timeRow(`  ${cache} cache: CPU ms to the first result (user+system)`, runs, (r) => r.cpuMs),
    );
  }
  return rows;
}

/** A table cell: the value compared, and its text. */
interface Cell {
  value: number;
  text: string;
}

/** The median, shown with the smallest and largest run. */
function spread(values: number[]): Cell {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return {
    value: median,
    text: `${formatMs(median)} (${sorted[0].toFixed(0)}-${sorted[sorted.length - 1].toFixed(0)})`,
  };
}

/** Cells for ours, ours with the runtime's SDK and CallbackFunction; the target applies to ours. */
function row(metric: string, [ours, runtimeSdk, baseline]: Cell[], target?: number): Row {
  const ratio = ours.value / baseline.value;
  const targetText = target === undefined ? "-" : `<= ${formatPercent(target)}`;
  const met = target === undefined ? "-" : ratio <= target ? "yes" : "NO";
  return [
    metric,
    ours.text,
    runtimeSdk.text,
    baseline.text,
    formatPercent(ratio),
    formatPercent(runtimeSdk.value / baseline.value),
    targetText,
    met,
  ];
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
