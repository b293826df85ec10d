/**
 * Runs a Pulumi program the way `pulumi up` (or `pulumi preview`) does, without the Pulumi CLI: the
 * program's own `@pulumi/pulumi/cmd/run` entry is started in a child process with the arguments and
 * environment the Node.js language host gives it, and talks gRPC to a loopback engine and resource
 * monitor served here from the protos that ship inside `@pulumi/pulumi`.
 *
 * What the language host does, and this reproduces (pulumi/sdk/nodejs/cmd/pulumi-language-nodejs):
 * - the program is Pulumi.yaml's `main` (a file: its folder is the working directory and the file the
 *   entry; a folder: that folder with entry "."), else "." in the project folder, which `cmd/run`
 *   resolves through package.json `exports["."]`, then `main`
 *   (https://www.pulumi.com/docs/iac/concepts/projects/project-file/);
 * - config travels in `PULUMI_CONFIG` (a JSON object of `namespace:key` to string; objects are JSON
 *   text) and the secret keys in `PULUMI_CONFIG_SECRET_KEYS`;
 * - runtime option `typescript` (default true) sets `PULUMI_NODEJS_TYPESCRIPT`, so `cmd/run` compiles
 *   the TypeScript entry itself.
 * The monitor answers registrations with the ids and outputs the providers return (provider-state.ts)
 * and records every registration, invoke, stack output and log line, reporting each as it happens.
 * It is what `queue-patterns plan` runs a user's program with, and what the tests run this
 * repository's stacks with.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { AWS_PUBLIC_PARAMETER_CALLS, AZURE_CLIENT_CALLS, type CallAnswer } from "../testing/provider-calls";
import { providerState, UnmodelledTypeError } from "../testing/provider-state";
import { engineConfig } from "./stack-config";

const pulumiRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
/** A module of Pulumi's own SDK dependencies (gRPC, protobuf), resolved from where `@pulumi/pulumi` is installed. */
const pulumiDependency = (id: string) => require(require.resolve(id, { paths: [pulumiRoot] }));
// The gRPC library and generated services Pulumi's own SDK uses.
const grpc = pulumiDependency("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const resourceRpc = require("@pulumi/pulumi/proto/resource_grpc_pb");
const resourceProto = require("@pulumi/pulumi/proto/resource_pb");
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engineProto = require("@pulumi/pulumi/proto/engine_pb");
const providerProto = require("@pulumi/pulumi/proto/provider_pb");
const emptyProto = pulumiDependency("google-protobuf/google/protobuf/empty_pb");
const structProto = pulumiDependency("google-protobuf/google/protobuf/struct_pb");

/** Pulumi's wire signatures (sdk/go/common/resource/sig: https://github.com/pulumi/pulumi/blob/master/sdk/go/common/resource/sig/sig.go). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SIG = {
  secret: "1b47061264138c4ac30d75fd1eb44270",
  outputValue: "d0e6a833031e9bbcd3f4e8bde6ca49a4",
  asset: "c44067f5952c0a294b673a41bacb7f3d",
  archive: "0def7320c3a5731c473e5ecbe6d01bc7",
  resourceReference: "5cf8f73096256a8f31e491e813e4eb8e",
};
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The features today's engine answers yes to in `SupportsFeature`. */
const ENGINE_FEATURES = new Set([
  "secrets",
  "resourceReferences",
  "outputValues",
  "deletedWith",
  "replaceWith",
  "aliasSpecs",
  "transforms",
  "invokeTransforms",
  "parameterization",
  "resourceHooks",
  "errorHooks",
]);

/** One `RegisterResource` as the engine received it. */
export interface Registration {
  urn: string;
  type: string;
  name: string;
  /** The parent's logical name; the stack's name for top-level resources. */
  parent?: string;
  /** The parent's URN (logical names alone may repeat across types). */
  parentUrn?: string;
  custom: boolean;
  /** Inputs decoded to plain values: secrets unwrapped (and listed in `secretInputs`), unknowns as undefined. */
  inputs: Record<string, any>;
  secretInputs: string[];
  /**
   * The property paths of the inputs that were unknown (computed from an output not known yet), in
   * Pulumi's property path syntax: `policy`, `dimensions.QueueName`, `scopes[0]`.
   */
  unknownInputs: string[];
  /**
   * What the engine answered beyond the inputs: the id and the outputs the provider computes (ARNs,
   * generated names, principal ids), unless a preview answered them unknown.
   */
  answered: { id?: string; outputs: Record<string, any> };
}

export interface LogLine {
  severity: string;
  message: string;
}

/** One function call (invoke) the program made, and what the engine answered. */
export interface Invoke {
  token: string;
  args: Record<string, any>;
  result: Record<string, any>;
}

/** What the engine sees of a program run, as it happens. */
export type ProgramEvent =
  | { kind: "started"; entry: string; pwd: string }
  | { kind: "log"; line: LogLine }
  | { kind: "registered"; registration: Registration }
  | { kind: "exited"; exitCode: number | null };

export interface ProgramRun {
  registrations: Registration[];
  invokes: Invoke[];
  /** The stack's outputs (its `RegisterResourceOutputs`), decoded like inputs. */
  stackOutputs: Record<string, any> | undefined;
  logs: LogLine[];
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** What the host ran: the project (Pulumi.yaml `name`), entry argument, working directory and Node.js version. */
  program: { project: string; entry: string; pwd: string; nodeVersion: string };
}

export interface ProgramOptions {
  /** The folder holding Pulumi.yaml. */
  projectDir: string;
  stack: string;
  /** Config as `pulumi config` holds it: `namespace:key` to a value (objects allowed). */
  config: Record<string, unknown>;
  /** Keys of `config` set with `--secret`. */
  secretKeys?: string[];
  /** `pulumi preview` (true) or `pulumi up` (false). */
  preview: boolean;
  /**
   * In a preview, answer each create with the id and outputs its provider would return
   * (provider-state.ts) instead of unknowns, as a preview answers for resources already in the
   * state. The program's `apply` callbacks then run, so values computed from outputs (policy
   * documents, role scopes) can be shown; `answered` of each registration says which values these
   * are. Types the model does not know stay unknown.
   * @default false
   */
  answerOutputs?: boolean;
  /** Answers to functions (invokes) beyond those every component stack calls (provider-calls.ts). */
  calls?: Record<string, CallAnswer>;
  /** Called for each event as it happens (output lines, registrations, logs), for progress. */
  onEvent?: (event: ProgramEvent) => void;
  /** The Node.js binary to run the program on. @default this process's */
  node?: string;
}

/** What decoding one value found besides the value: whether it held a secret, and where it was unknown. */
interface Found {
  secret: boolean;
  unknowns: string[];
}

/** `parent.key` or `parent["key"]`: Pulumi's property path syntax. */
function propertyPath(parent: string, key: string): string {
  const simple = /^[A-Za-z_$][\w$]*$/.test(key);
  if (!parent) return simple ? key : `[${JSON.stringify(key)}]`;
  return simple ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/**
 * Decodes one wire value at property path `at` to plain JSON: secrets unwrapped, unknowns as
 * undefined (their paths noted), resource references as their id (else URN), assets and archives as
 * `{ asset | archive: <path, URI, or the names of the files it holds> }`.
 */
function plain(value: any, at: string, found: Found): any {
  if (value === UNKNOWN) {
    found.unknowns.push(at);
    return undefined;
  }
  if (Array.isArray(value)) return value.map((v, i) => plain(v, `${at}[${i}]`, found));
  if (value === null || typeof value !== "object") return value;
  switch (value[SIG_KEY]) {
    case SIG.secret:
      found.secret = true;
      return plain(value.value, at, found);
    case SIG.outputValue:
      if (value.secret) found.secret = true;
      if (value.value === undefined) {
        found.unknowns.push(at);
        return undefined;
      }
      return plain(value.value, at, found);
    case SIG.resourceReference:
      return value.id !== undefined ? plain(value.id, at, found) : value.urn;
    case SIG.asset:
      return { asset: value.path ?? value.uri ?? "(text)" };
    case SIG.archive:
      return { archive: value.path ?? value.uri ?? Object.keys(value.assets ?? {}).sort() };
    default:
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, propertyPath(at, k), found)]));
  }
}

function decodeStruct(struct: any): { values: Record<string, any>; secretKeys: string[]; unknowns: string[] } {
  const raw = struct ? (struct.toJavaScript() as Record<string, any>) : {};
  const values: Record<string, any> = {};
  const secretKeys: string[] = [];
  const unknowns: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const found: Found = { secret: false, unknowns };
    values[key] = plain(value, propertyPath("", key), found);
    if (found.secret) secretKeys.push(key);
  }
  return { values, secretKeys, unknowns };
}

/**
 * The outputs a provider previews for a create: the inputs as given, and unknown for every output
 * they do not give, at every level of nesting (azure-native's `PreviewOutputs` in
 * provider/pkg/convert/previewOutputs.go; the bridged AWS provider marks computed attributes
 * unknown the same way). `state` is what the create will return, so it names the outputs.
 */
function previewOutputs(inputs: Record<string, any>, state: Record<string, any>): Record<string, any> {
  const result: Record<string, any> = { ...inputs };
  for (const [key, output] of Object.entries(state)) {
    const input = inputs[key];
    if (input === undefined) result[key] = UNKNOWN;
    else if (isPlainObject(input) && isPlainObject(output)) result[key] = previewOutputs(input, output);
  }
  return result;
}

function isPlainObject(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(SIG_KEY in value);
}

/** The logical name at the end of a URN (`urn:pulumi:stack::project::type::name`). */
function nameOfUrn(urn: string): string {
  return urn.split("::").pop() ?? urn;
}

/** What the Pulumi CLI derives from Pulumi.yaml for the language host: working folder, entry, runtime options. */
function projectProgram(projectDir: string): {
  project: string;
  pwd: string;
  entry: string;
  typescript: boolean;
  tsconfig?: string;
} {
  const document = yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as {
    name: string;
    main?: string;
    runtime: string | { name: string; options?: { typescript?: boolean; tsconfig?: string } };
  };
  const options = typeof document.runtime === "object" ? (document.runtime.options ?? {}) : {};
  let pwd = projectDir;
  let entry = ".";
  if (document.main) {
    const main = path.resolve(projectDir, document.main);
    if (fs.statSync(main).isDirectory()) pwd = main;
    else [pwd, entry] = [path.dirname(main), path.basename(main)];
  }
  return { project: document.name, pwd, entry, typescript: options.typescript ?? true, tsconfig: options.tsconfig };
}

/** How the engine answers, beyond `pulumi preview` or `pulumi up`. */
export interface EngineOptions {
  /** See `ProgramOptions.answerOutputs`. */
  answerOutputs?: boolean;
  /** See `ProgramOptions.calls`. */
  calls?: Record<string, CallAnswer>;
  /** See `ProgramOptions.onEvent`. */
  onEvent?: (event: ProgramEvent) => void;
}

/** The engine side of one program run: a resource monitor and an engine on one loopback gRPC server. */
export class LoopbackEngine {
  readonly registrations: Registration[] = [];
  readonly invokes: Invoke[] = [];
  readonly logs: LogLine[] = [];
  stackOutputs: Record<string, any> | undefined;
  private readonly server = new grpc.Server();
  private readonly calls: Record<string, CallAnswer>;
  private rootUrn = "";
  private stackUrn = "";

  constructor(
    private readonly project: string,
    private readonly stack: string,
    private readonly preview: boolean,
    private readonly options: EngineOptions = {},
  ) {
    this.calls = { ...AZURE_CLIENT_CALLS, ...AWS_PUBLIC_PARAMETER_CALLS, ...options.calls };
    const answer = (handler: (request: any) => Promise<unknown> | unknown) => (call: any, callback: any) => {
      Promise.resolve()
        .then(() => handler(call.request))
        .then(
          (response) => callback(null, response),
          (error: Error) => callback({ code: grpc.status.UNKNOWN, details: error.message }),
        );
    };
    this.server.addService(resourceRpc.ResourceMonitorService, {
      supportsFeature: answer((request) => {
        const response = new resourceProto.SupportsFeatureResponse();
        response.setHassupport(ENGINE_FEATURES.has(request.getId()));
        return response;
      }),
      registerResource: answer((request) => this.registerResource(request)),
      registerResourceOutputs: answer((request) => {
        if (request.getUrn() === this.stackUrn) this.stackOutputs = decodeStruct(request.getOutputs()).values;
        return new emptyProto.Empty();
      }),
      invoke: answer((request) => this.invoke(request)),
      registerPackage: answer((request) => {
        const response = new resourceProto.RegisterPackageResponse();
        response.setRef(`${request.getName()}-${request.getVersion()}`);
        return response;
      }),
      signalAndWaitForShutdown: answer(() => new emptyProto.Empty()),
    });
    this.server.addService(engineRpc.EngineService, {
      log: answer((request) => {
        const severities = ["debug", "info", "warning", "error"];
        const line = { severity: severities[request.getSeverity()] ?? "info", message: request.getMessage() };
        this.logs.push(line);
        this.options.onEvent?.({ kind: "log", line });
        return new emptyProto.Empty();
      }),
      getRootResource: answer(() => {
        const response = new engineProto.GetRootResourceResponse();
        response.setUrn(this.rootUrn);
        return response;
      }),
      setRootResource: answer((request) => {
        this.rootUrn = request.getUrn();
        return new engineProto.SetRootResourceResponse();
      }),
    });
  }

  start(): Promise<string> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(`127.0.0.1:${port}`),
      ),
    );
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private urnOf(parentUrn: string, type: string, name: string): string {
    const parentType = parentUrn ? parentUrn.split("::")[2] : "";
    const qualified = parentType && parentUrn !== this.stackUrn ? `${parentType.split("$").pop()}$${type}` : type;
    return `urn:pulumi:${this.stack}::${this.project}::${qualified}::${name}`;
  }

  private async registerResource(request: any): Promise<unknown> {
    const type: string = request.getType();
    const name: string = request.getName();
    const parentUrn: string = request.getParent();
    const urn = this.urnOf(parentUrn, type, name);
    if (type === "pulumi:pulumi:Stack") this.stackUrn = urn;
    const { values, secretKeys, unknowns } = decodeStruct(request.getObject());
    const registration: Registration = {
      urn,
      type,
      name,
      parent: parentUrn ? nameOfUrn(parentUrn) : undefined,
      parentUrn: parentUrn || undefined,
      custom: request.getCustom(),
      inputs: values,
      secretInputs: secretKeys,
      unknownInputs: unknowns,
      answered: { outputs: {} },
    };
    this.registrations.push(registration);
    this.options.onEvent?.({ kind: "registered", registration });
    const response = new resourceProto.RegisterResourceResponse();
    response.setUrn(urn);
    const raw = request.getObject() ? request.getObject().toJavaScript() : {};
    if (type === "pulumi:pulumi:Stack") {
      response.setObject(structProto.Struct.fromJavaScript(raw));
      return response;
    }
    let answer: { id: string; state: Record<string, any> };
    try {
      answer = providerState(type, name, values);
    } catch (error) {
      // A preview of a type the model does not know: only its inputs are known, as in a first preview.
      if (!(error instanceof UnmodelledTypeError) || !this.preview) throw error;
      response.setId("");
      response.setObject(structProto.Struct.fromJavaScript(raw));
      return response;
    }
    const { id, state } = answer;
    if (this.preview && !this.options.answerOutputs) {
      // A preview of a create: the id is unknown, and so is every output the inputs do not give.
      response.setId("");
      response.setObject(structProto.Struct.fromJavaScript(previewOutputs(raw, state)));
      return response;
    }
    const computed = Object.fromEntries(
      Object.entries(state).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(values[key])),
    );
    const custom: boolean = request.getCustom();
    registration.answered = { id: custom ? id : undefined, outputs: computed };
    response.setId(custom ? (id ?? "") : "");
    response.setObject(structProto.Struct.fromJavaScript({ ...raw, ...computed }));
    return response;
  }

  private async invoke(request: any): Promise<unknown> {
    const token: string = request.getTok();
    const args = decodeStruct(request.getArgs()).values;
    const answer = this.calls[token];
    if (!answer) {
      throw new Error(
        `${token}(${JSON.stringify(args)}) is not answered here: it asks the cloud, and this run asks none`,
      );
    }
    const result = answer(args);
    this.invokes.push({ token, args, result });
    const response = new providerProto.InvokeResponse();
    response.setReturn(structProto.Struct.fromJavaScript(result));
    return response;
  }
}

/**
 * Runs the program in `projectDir` for `stack` as the Pulumi CLI and language host would, and
 * returns what the engine saw. Never throws for a failing program: the exit code and stderr say it.
 */
export async function runProgram(options: ProgramOptions): Promise<ProgramRun> {
  const program = projectProgram(options.projectDir);
  const engine = new LoopbackEngine(program.project, options.stack, options.preview, options);
  const address = await engine.start();
  const node = options.node ?? process.execPath;
  const runEntry = require.resolve("@pulumi/pulumi/cmd/run", { paths: [program.pwd] });
  const config = engineConfig(options.config);
  const args = [
    runEntry,
    `--monitor=${address}`,
    `--engine=${address}`,
    `--organization=organization`,
    `--project=${program.project}`,
    `--stack=${options.stack}`,
    `--pwd=${program.pwd}`,
    `--root-directory=${options.projectDir}`,
    "--parallel=16",
    ...(options.preview ? ["--dry-run"] : []),
    program.entry,
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(options.secretKeys ?? []),
  };
  if (program.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (program.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = program.tsconfig;
  try {
    const child = spawn(node, args, { cwd: program.pwd, env, stdio: ["ignore", "pipe", "pipe"] });
    options.onEvent?.({ kind: "started", entry: program.entry, pwd: program.pwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
    options.onEvent?.({ kind: "exited", exitCode });
    const nodeVersion = await new Promise<string>((resolve) => {
      const probe = spawn(node, ["--version"]);
      let out = "";
      probe.stdout.on("data", (chunk) => (out += chunk));
      probe.once("exit", () => resolve(out.trim()));
    });
    return {
      registrations: engine.registrations,
      invokes: engine.invokes,
      stackOutputs: engine.stackOutputs,
      logs: engine.logs,
      exitCode,
      stdout,
      stderr,
      program: { project: program.project, entry: program.entry, pwd: program.pwd, nodeVersion },
    };
  } finally {
    await engine.stop();
  }
}

/**
 * Each resource below the stack as "type name (parent: p)", sorted: what two plans of one program
 * must agree on. Children of the stack (named `stackName`) and unparented resources read the same.
 */
export function planShape(resources: { type: string; name: string; parent?: string }[], stackName?: string): string[] {
  return resources
    .filter((r) => r.type !== "pulumi:pulumi:Stack")
    .map((r) => `${r.type} ${r.name}${r.parent && r.parent !== stackName ? ` (parent: ${r.parent})` : ""}`)
    .sort();
}

/** A dynamic provider as the engine drives it: Pulumi's own `cmd/dynamic-provider` host, over gRPC. */
export interface DynamicProviderHost {
  /** `Diff` of a dynamic resource: whether the provider reports changes (`DIFF_SOME`) for these states. */
  diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<"none" | "some" | "unknown">;
  stop(): Promise<void>;
}

/**
 * Starts `@pulumi/pulumi/cmd/dynamic-provider` (the plugin the engine runs for every dynamic
 * resource: it deserializes the `__provider` text a program registered and calls its methods),
 * connected to a loopback engine, and configures it as the engine does before the first call.
 * `programDir` is the program's folder: the engine runs the plugin of the program's own
 * `@pulumi/pulumi`, so the modules the provider text requires resolve from that program's
 * node_modules (by default, this checkout's).
 */
export async function startDynamicProviderHost(programDir?: string): Promise<DynamicProviderHost> {
  const providerRpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
  const engine = new LoopbackEngine("dynamic", "dynamic", false);
  const engineAddress = await engine.start();
  const plugin = require.resolve("@pulumi/pulumi/cmd/dynamic-provider", programDir ? { paths: [programDir] } : {});
  const child = spawn(process.execPath, [plugin, engineAddress], {
    cwd: programDir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve(line.trim());
    });
    child.once("exit", (code) => reject(new Error(`the dynamic provider host exited (${code}): ${stderr}`)));
  });
  const client = new providerRpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const unary = <T>(method: string, request: unknown) =>
    new Promise<T>((resolve, reject) =>
      client[method](request, (error: Error | null, response: T) =>
        error ? reject(new Error(`${method}: ${error.message}\n${stderr}`)) : resolve(response),
      ),
    );
  const configure = new providerProto.ConfigureRequest();
  configure.setArgs(structProto.Struct.fromJavaScript({}));
  await unary("configure", configure);
  return {
    async diff(id, olds, news) {
      const request = new providerProto.DiffRequest();
      request.setId(id);
      request.setUrn("urn:pulumi:dev::queue-patterns::pulumi-nodejs:dynamic/queue-patterns:FlexDeployment::deployment");
      request.setOlds(structProto.Struct.fromJavaScript(olds));
      request.setNews(structProto.Struct.fromJavaScript(news));
      const response = await unary<any>("diff", request);
      const changes = response.getChanges();
      const kinds = providerProto.DiffResponse.DiffChanges;
      return changes === kinds.DIFF_SOME ? "some" : changes === kinds.DIFF_NONE ? "none" : "unknown";
    },
    async stop() {
      client.close();
      child.kill();
      await engine.stop();
    },
  };
}
