/**
 * Runs a packaged artifact the way the platform would: unpacked into an empty temp folder (no
 * node_modules anywhere above it), loaded in a fresh Node.js process, invoked with events. Which
 * Node.js runs it is the caller's choice (`NodeSelector`): by default the one running the caller;
 * this repository's tests pass the official build of the major the artifact declares (the one its
 * runtime deploys).
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { unzipSync } from "fflate";
import { BUNDLE_FILE, declaredNodeMajor, type FunctionHost } from "../components/core/artifact";

/** A Node.js binary and the version it reports. */
export interface NodeBinary {
  /** `process.version` of the binary, e.g. `v24.22.3`. */
  version: string;
  /** Absolute path of its `node` executable. */
  execPath: string;
}

/** Chooses the Node.js that runs an artifact, given the major its bundle declares. */
export type NodeSelector = (declaredMajor: number) => NodeBinary;

/** The Node.js running this process, whatever major the artifact declares. */
export const runningNode: NodeSelector = () => ({ version: process.version, execPath: process.execPath });

/** A `node` executable of your choice (e.g. the major your functions deploy to), for every artifact. */
export function nodeAt(execPath: string): NodeSelector {
  let binary: NodeBinary | undefined;
  return () => (binary ??= { execPath, version: execFileSync(execPath, ["--version"], { encoding: "utf8" }).trim() });
}

export interface Invocation {
  result?: unknown;
  error?: { name: string; message: string };
  /** What the function logged during the invocation. */
  logs: string[];
}

export interface RegisteredFunction {
  name: string;
  bindings: Record<string, { type: string; direction: string; [key: string]: unknown }>;
}

/** Unpacks a zip into a new temp folder and returns the folder. */
export function unpack(zip: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-artifact-"));
  for (const [name, bytes] of Object.entries(unzipSync(zip))) {
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes);
  }
  return dir;
}

/** Fails if a node_modules folder could be found from `dir` upwards: the artifact must stand alone. */
export function assertNoNodeModulesAbove(dir: string): void {
  for (let current = dir; ; current = path.dirname(current)) {
    if (fs.existsSync(path.join(current, "node_modules"))) {
      throw new Error(`${current}/node_modules exists: an artifact test would not prove the bundle stands alone`);
    }
    if (path.dirname(current) === current) return;
  }
}

/** The Node.js major the unpacked artifact's bundle declares on its first line. */
export function declaredMajorOf(dir: string): number {
  const bundle = path.join(dir, BUNDLE_FILE);
  const major = fs.existsSync(bundle) ? declaredNodeMajor(fs.readFileSync(bundle, "utf8")) : undefined;
  if (major === undefined) {
    throw new Error(`${bundle} declares no Node.js major on its first line: build the archive with buildArtifact`);
  }
  return major;
}

export class ArtifactProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (message: any) => void; reject: (error: Error) => void }>();
  /** The process's output outside invocations (start-up errors, crashes). */
  readonly stderr: string[] = [];

  private constructor(
    readonly dir: string,
    /** The Node.js running the artifact. */
    readonly node: NodeBinary,
    /** The Node.js major the artifact was built for (its runtime's). */
    readonly declaredMajor: number,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (message: any) => {
      const waiter = this.pending.get(message.id);
      if (waiter) {
        this.pending.delete(message.id);
        waiter.resolve(message);
      }
    });
    child.on("exit", (code) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(
          new Error(`artifact process exited with ${code} (Node.js ${node.version}):\n${this.stderr.join("")}`),
        );
      }
      this.pending.clear();
    });
  }

  /**
   * Unpacks `zip` and starts a fresh process of the Node.js `node` chooses for the major the
   * artifact declares (by default the running one) around it; `env` is all the environment it gets.
   */
  static async start(
    zip: Uint8Array,
    host: FunctionHost,
    env: Record<string, string> = {},
    node: NodeSelector = runningNode,
  ): Promise<ArtifactProcess> {
    const dir = unpack(zip);
    assertNoNodeModulesAbove(dir);
    let binary: NodeBinary;
    let declaredMajor: number;
    try {
      declaredMajor = declaredMajorOf(dir);
      binary = node(declaredMajor);
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const child = fork(path.join(__dirname, "artifact-host.js"), [dir, host], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...env },
      execPath: binary.execPath,
      execArgv: [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const runner = new ArtifactProcess(dir, binary, declaredMajor, child);
    child.stdout?.on("data", (chunk) => runner.stderr.push(String(chunk)));
    child.stderr?.on("data", (chunk) => runner.stderr.push(String(chunk)));
    try {
      const reported = await new Promise<string>((resolve, reject) => {
        const onExit = (code: number | null) =>
          reject(
            new Error(
              `artifact process exited with ${code} while loading (Node.js ${binary.version}):\n${runner.stderr.join("")}`,
            ),
          );
        const onMessage = (message: any) => {
          if (message?.ready) {
            child.off("message", onMessage);
            child.off("exit", onExit);
            resolve(message.nodeVersion);
          }
        };
        child.on("message", onMessage);
        child.once("exit", onExit);
      });
      if (reported !== binary.version) {
        throw new Error(`the artifact reports Node.js ${reported}, not ${binary.version} of ${binary.execPath}`);
      }
    } catch (error) {
      await runner.stop();
      throw error;
    }
    return runner;
  }

  private request(body: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...body });
    });
  }

  /** Invokes a Lambda artifact's handler with an event. */
  async invoke(event: unknown, functionName = "function"): Promise<Invocation> {
    const { result, error, logs } = await this.request({ kind: "invoke", event, functionName });
    return { result, error, logs };
  }

  /** Invokes a function an Azure artifact registered, with its trigger input and metadata. */
  async invokeFunction(
    functionName: string,
    input: unknown,
    triggerMetadata: Record<string, unknown> = {},
  ): Promise<Invocation> {
    const { result, error, logs } = await this.request({ kind: "invoke", functionName, event: input, triggerMetadata });
    return { result, error, logs };
  }

  /** The functions an Azure artifact registered with the (emulated) worker. */
  async registrations(): Promise<RegisteredFunction[]> {
    return (await this.request({ kind: "registrations" })).result;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill();
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
