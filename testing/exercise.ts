/**
 * What every component runner of `queue-patterns/testing` shares: its options (which Node.js runs
 * the artifacts, extra environment, emulators to reuse, progress), the record of one invocation,
 * reading a component's resolved values under the testing mocks, and emulators started on demand
 * and stopped afterwards.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Artifact } from "../components/core/artifact";
import { type Invocation, type NodeSelector, nodeAt, runningNode } from "./artifact-runner";
import { type Azurite, type Fauxqs, startAzurite, startFauxqs } from "./emulators";

/** Options every `exercise*` function takes. */
export interface ExerciseOptions {
  /**
   * The `node` executable that runs the component's artifacts, each in a fresh process. Set it to a
   * Node.js of the major your functions deploy to (`nodejs24.x`, Functions' `nodeVersion`) to run
   * them on that major.
   * @default the Node.js running your test (`process.execPath`)
   */
  node?: string;
  /**
   * Environment variables given to the functions, over the environment the component gives them
   * (the component's own resource ids are replaced by the emulators' either way). Point your
   * callbacks' external APIs at local stand-ins here.
   * @example { SEARCH_INDEX_URL: "http://127.0.0.1:8080" }
   */
  environment?: Record<string, string>;
  /** A running fauxqs to use instead of starting one (see `startFauxqs`); it is not stopped. */
  fauxqs?: Fauxqs;
  /** A running Azurite to use instead of starting one (see `startAzurite`); it is not stopped. */
  azurite?: Azurite;
  /** Called with a line of progress while emulators start, artifacts build and messages flow. */
  onProgress?: (line: string) => void;
  /**
   * How long the queue may take to drain before the run stops waiting, in milliseconds.
   * @default 60000
   */
  timeoutMs?: number;
}

/** One invocation of a function: what it was given, what it returned or threw, what it logged. */
export interface InvocationRecord {
  /** The function's role in the component, e.g. `handler`, `producer`, `consumer`, `chunk`, `ingest`. */
  function: string;
  /** The event or trigger input, as the platform would hand it over. */
  event: unknown;
  /** What the function returned (`null` for nothing). */
  result?: unknown;
  /** What it threw. */
  error?: { name: string; message: string };
  /** Its console output during the invocation (Lambda: one JSON log line per call). */
  logs: string[];
}

/** The Node.js that ran a component's artifacts. */
export interface NodeUsed {
  /** `process.version` of the process that ran the artifact. */
  version: string;
  /** The major the artifact was built for: the function runtime's. */
  declaredMajor: number;
}

/** The Node.js chosen by `options.node`. */
export function nodeSelector(options: ExerciseOptions): NodeSelector {
  return options.node ? nodeAt(options.node) : runningNode;
}

/** An invocation's record. */
export function invocationRecord(role: string, event: unknown, invocation: Invocation): InvocationRecord {
  return { function: role, event, ...invocation };
}

/** The value of an Output (or plain value); under the testing mocks every value is known. */
export function valueOf<T>(input: pulumi.Input<T> | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const output = pulumi.output(input) as pulumi.Output<T> & { promise(): Promise<T> };
    output.promise().then(resolve, reject);
  });
}

/** A component's name, the last part of its URN. */
export async function nameOf(component: pulumi.Resource): Promise<string> {
  return (await valueOf(component.urn)).split("::").pop() ?? "";
}

/** The artifact of a function, or an error saying the component was not built under the testing mocks. */
export async function artifactOf(owner: string, artifact: pulumi.Output<Artifact>): Promise<Artifact> {
  const built = await valueOf(artifact);
  if (!built?.zipBase64) {
    throw new Error(
      `${owner}: its artifact did not resolve. Construct the component after installTestingMocks() ` +
        "(queue-patterns/testing), in a test run on compiled CommonJS (see docs/testing.md).",
    );
  }
  return built;
}

/** The environment a Lambda function was declared with, from its `environment.variables`. */
export async function lambdaEnvironment(fn: { environment: pulumi.Output<unknown> }): Promise<Record<string, string>> {
  const environment = (await valueOf(fn.environment)) as { variables?: Record<string, string> } | undefined;
  return { ...(environment?.variables ?? {}) };
}

/** Emulators started when first needed and stopped by `stop`; those passed in options are only borrowed. */
export class EmulatorLease {
  private fauxqs?: Promise<Fauxqs>;
  private azurite?: Promise<Azurite>;
  private readonly started: Promise<{ stop(): Promise<void> }>[] = [];

  constructor(private readonly options: Pick<ExerciseOptions, "fauxqs" | "azurite" | "onProgress">) {}

  useFauxqs(): Promise<Fauxqs> {
    if (this.options.fauxqs) return Promise.resolve(this.options.fauxqs);
    if (!this.fauxqs) {
      this.options.onProgress?.("starting fauxqs (SNS/SQS emulator) on a free loopback port");
      this.fauxqs = startFauxqs();
      this.started.push(this.fauxqs);
    }
    return this.fauxqs;
  }

  useAzurite(): Promise<Azurite> {
    if (this.options.azurite) return Promise.resolve(this.options.azurite);
    if (!this.azurite) {
      this.options.onProgress?.("starting Azurite (Blob and Queue emulator) on free loopback ports");
      this.azurite = startAzurite();
      this.started.push(this.azurite);
    }
    return this.azurite;
  }

  /** Stops the emulators this lease started. */
  async stop(): Promise<void> {
    await Promise.all(
      this.started.map((emulator) =>
        emulator.then(
          (running) => running.stop(),
          () => undefined,
        ),
      ),
    );
  }
}

/** Runs `body` with a lease of emulators, stopping those it started whatever happens. */
export async function withEmulators<T>(options: ExerciseOptions, body: (lease: EmulatorLease) => Promise<T>) {
  const lease = new EmulatorLease(options);
  try {
    return await body(lease);
  } finally {
    await lease.stop();
  }
}
