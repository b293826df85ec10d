/**
 * Runs a packaged artifact the way the platform would: unpacked into an empty temp folder (no
 * node_modules anywhere above it), loaded in a fresh process of the official Node.js build of the
 * major the artifact declares (the one its runtime deploys), invoked with events.
 */
import { type ChildProcess, fork } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { unzipSync } from "fflate";
import { BUNDLE_FILE, declaredNodeMajor, type FunctionHost } from "../../components/core/artifact";
import { type NodeBuild, nodeBuild } from "./node-builds";

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

/** The official Node.js build for the major the unpacked artifact's bundle declares. */
export function nodeBuildFor(dir: string): NodeBuild {
  const bundle = path.join(dir, BUNDLE_FILE);
  const major = fs.existsSync(bundle) ? declaredNodeMajor(fs.readFileSync(bundle, "utf8")) : undefined;
  if (major === undefined) {
    throw new Error(`${bundle} declares no Node.js major on its first line: build the archive with buildArtifact`);
  }
  return nodeBuild(major);
}

export class ArtifactProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (message: any) => void; reject: (error: Error) => void }>();
  /** The process's output outside invocations (start-up errors, crashes). */
  readonly stderr: string[] = [];

  private constructor(
    readonly dir: string,
    /** The Node.js build running the artifact: the major it declares, never the machine's own node. */
    readonly node: NodeBuild,
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
   * Unpacks `zip` and starts a fresh process of the Node.js build the artifact declares around it;
   * `env` is all the environment it gets.
   */
  static async start(zip: Uint8Array, host: FunctionHost, env: Record<string, string> = {}): Promise<ArtifactProcess> {
    const dir = unpack(zip);
    assertNoNodeModulesAbove(dir);
    let node: NodeBuild;
    try {
      node = nodeBuildFor(dir);
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const child = fork(path.join(__dirname, "artifact-host.js"), [dir, host], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...env },
      execPath: node.execPath,
      execArgv: [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const runner = new ArtifactProcess(dir, node, child);
    child.stdout?.on("data", (chunk) => runner.stderr.push(String(chunk)));
    child.stderr?.on("data", (chunk) => runner.stderr.push(String(chunk)));
    try {
      const reported = await new Promise<string>((resolve, reject) => {
        const onExit = (code: number | null) =>
          reject(
            new Error(
              `artifact process exited with ${code} while loading (Node.js ${node.version}):\n${runner.stderr.join("")}`,
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
      if (reported !== node.version) {
        throw new Error(`the artifact reports Node.js ${reported}, not ${node.version} of ${node.execPath}`);
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
