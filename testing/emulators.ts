/**
 * Emulator fixtures: fauxqs (SNS/SQS) and Azurite (Blob, Queue) started from node_modules on free
 * loopback ports, waited for, and stopped. They are optional peer dependencies of queue-patterns:
 * starting one that is not installed fails with the `npm install -D` that fixes it. This
 * repository's `npm test` starts one of each for all test files and passes the endpoints in QP_*
 * variables; a test file run on its own starts its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const AZURITE_ACCOUNT = "devstoreaccount1";
/** Azurite's published development key (not a secret: it is the same in every Azurite). */
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Emulator {
  /** Stops the process if this fixture started it. */
  stop(): Promise<void>;
}

export interface Fauxqs extends Emulator {
  endpoint: string;
  region: string;
}

export interface Azurite extends Emulator {
  blobEndpoint: string;
  queueEndpoint: string;
  /** A connection string for the SDKs and for the runtimes' `...Storage` settings. */
  connectionString: string;
}

/** Standard client settings for the SDK against fauxqs. */
export function fauxqsClientConfig(fauxqs: Pick<Fauxqs, "endpoint" | "region">) {
  return {
    endpoint: fauxqs.endpoint,
    region: fauxqs.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
}

/** Environment for a function process that talks to fauxqs through the SDK's default chain. */
export function fauxqsFunctionEnv(fauxqs: Pick<Fauxqs, "endpoint" | "region">): Record<string, string> {
  return {
    AWS_REGION: fauxqs.region,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL: fauxqs.endpoint,
  };
}

export function azuriteConnectionString(blobEndpoint: string, queueEndpoint: string): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};`
  );
}

/** Spawns a process and waits until its output matches every pattern; returns the matches. */
function startAndWait(
  command: string,
  args: string[],
  patterns: RegExp[],
  name: string,
): Promise<{ child: ChildProcess; matches: RegExpMatchArray[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${name} did not start within 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const matches = patterns.map((pattern) => output.match(pattern));
      if (matches.every((m) => m !== null)) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        // Keep draining so a chatty emulator never blocks on a full pipe.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({ child, matches: matches as RegExpMatchArray[] });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk) => (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/** How long an emulator gets to stop on SIGTERM before it is killed (Azurite can hang in cleanup). */
const STOP_GRACE_MS = 5_000;

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
}

/**
 * Fails unless the emulator package `name` can be found from here, naming the command that installs
 * it. Looked up by folder, not `require.resolve`: fauxqs is an ES module whose exports answer
 * `import` only.
 */
export function assertInstalled(name: "fauxqs" | "azurite", purpose: string): void {
  const folders = require.resolve.paths(name) ?? [];
  if (folders.some((folder) => fs.existsSync(path.join(folder, name, "package.json")))) return;
  throw new Error(
    `${name} is not installed: queue-patterns/testing runs ${purpose} on it. Install it beside queue-patterns ` +
      `with \`npm install -D ${name}\` (an optional peer dependency of queue-patterns).`,
  );
}

/** Starts fauxqs on a free loopback port. */
export async function startFauxqs(): Promise<Fauxqs> {
  assertInstalled("fauxqs", "SNS and SQS");
  const { child, matches } = await startAndWait(
    process.execPath,
    [path.join(__dirname, "fauxqs-server.js")],
    [/listening (http:\/\/127\.0\.0\.1:\d+)/],
    "fauxqs",
  );
  child.removeAllListeners("exit");
  return { endpoint: matches[0][1], region: "us-east-1", stop: stopper(child) };
}

/** Starts Azurite (Blob and Queue, in memory, no telemetry) on free loopback ports. */
export async function startAzurite(): Promise<Azurite> {
  assertInstalled("azurite", "Blob and Queue Storage");
  const { child, matches } = await startAndWait(
    process.execPath,
    [
      require.resolve("azurite/dist/src/azurite.js"),
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      "0",
      "--queueHost",
      "127.0.0.1",
      "--queuePort",
      "0",
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      "0",
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--silent",
    ],
    [
      /Blob service is successfully listening at (http:\/\/127\.0\.0\.1:\d+)/,
      /Queue service is successfully listening at (http:\/\/127\.0\.0\.1:\d+)/,
    ],
    "Azurite",
  );
  child.removeAllListeners("exit");
  const blobEndpoint = `${matches[0][1]}/${AZURITE_ACCOUNT}`;
  const queueEndpoint = `${matches[1][1]}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    queueEndpoint,
    connectionString: azuriteConnectionString(blobEndpoint, queueEndpoint),
    stop: stopper(child),
  };
}

/** The shared fauxqs of `npm test`, or a new one for a file run on its own. */
export async function useFauxqs(): Promise<Fauxqs> {
  const endpoint = process.env.QP_FAUXQS_ENDPOINT;
  if (endpoint) return { endpoint, region: "us-east-1", stop: async () => {} };
  return startFauxqs();
}

/** The shared Azurite of `npm test`, or a new one for a file run on its own. */
export async function useAzurite(): Promise<Azurite> {
  const blobEndpoint = process.env.QP_AZURITE_BLOB;
  const queueEndpoint = process.env.QP_AZURITE_QUEUE;
  if (blobEndpoint && queueEndpoint) {
    return {
      blobEndpoint,
      queueEndpoint,
      connectionString: azuriteConnectionString(blobEndpoint, queueEndpoint),
      stop: async () => {},
    };
  }
  return startAzurite();
}
