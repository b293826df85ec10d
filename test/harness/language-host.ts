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
 * and records every registration, invoke, stack output and log line.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { providerMocks, ResourceRecorder } from "../../testing/mocks";

const pulumiRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
// The gRPC library and generated services Pulumi's own SDK uses.
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [pulumiRoot] })) as typeof import("@grpc/grpc-js");
const resourceRpc = require("@pulumi/pulumi/proto/resource_grpc_pb");
const resourceProto = require("@pulumi/pulumi/proto/resource_pb");
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engineProto = require("@pulumi/pulumi/proto/engine_pb");
const providerProto = require("@pulumi/pulumi/proto/provider_pb");
const emptyProto = require("google-protobuf/google/protobuf/empty_pb");
const structProto = require("google-protobuf/google/protobuf/struct_pb");

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
  custom: boolean;
  /** Inputs decoded to plain values: secrets unwrapped (and listed in `secretInputs`), unknowns as undefined. */
  inputs: Record<string, any>;
  secretInputs: string[];
}

export interface LogLine {
  severity: string;
  message: string;
}

export interface ProgramRun {
  registrations: Registration[];
  invokes: { token: string; args: Record<string, any> }[];
  /** The stack's outputs (its `RegisterResourceOutputs`), decoded like inputs. */
  stackOutputs: Record<string, any> | undefined;
  logs: LogLine[];
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** What the host ran: the entry argument, working directory and Node.js version. */
  program: { entry: string; pwd: string; nodeVersion: string };
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
  /** The Node.js binary to run the program on. @default this process's */
  node?: string;
}

/** Decodes one wire value to plain JSON, noting whether it held a secret. */
function plain(value: any, secret: { found: boolean }): any {
  if (value === UNKNOWN) return undefined;
  if (Array.isArray(value)) return value.map((v) => plain(v, secret));
  if (value === null || typeof value !== "object") return value;
  switch (value[SIG_KEY]) {
    case SIG.secret:
      secret.found = true;
      return plain(value.value, secret);
    case SIG.outputValue:
      if (value.secret) secret.found = true;
      return value.value === undefined ? undefined : plain(value.value, secret);
    case SIG.resourceReference:
      return value.id !== undefined ? plain(value.id, secret) : value.urn;
    case SIG.asset:
    case SIG.archive:
      return { [value[SIG_KEY] === SIG.asset ? "asset" : "archive"]: Object.keys(value.assets ?? value).sort() };
    default:
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, secret)]));
  }
}

function decodeStruct(struct: any): { values: Record<string, any>; secretKeys: string[] } {
  const raw = struct ? (struct.toJavaScript() as Record<string, any>) : {};
  const values: Record<string, any> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const secret = { found: false };
    values[key] = plain(value, secret);
    if (secret.found) secretKeys.push(key);
  }
  return { values, secretKeys };
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

/** The engine side of one program run: a resource monitor and an engine on one loopback gRPC server. */
export class LoopbackEngine {
  readonly registrations: Registration[] = [];
  readonly invokes: { token: string; args: Record<string, any> }[] = [];
  readonly logs: LogLine[] = [];
  stackOutputs: Record<string, any> | undefined;
  private readonly server = new grpc.Server();
  private readonly recorder = new ResourceRecorder();
  private readonly mocks = providerMocks(this.recorder);
  private rootUrn = "";
  private stackUrn = "";

  constructor(
    private readonly project: string,
    private readonly stack: string,
    private readonly preview: boolean,
  ) {
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
        this.logs.push({ severity: severities[request.getSeverity()] ?? "info", message: request.getMessage() });
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
    const { values, secretKeys } = decodeStruct(request.getObject());
    this.registrations.push({
      urn,
      type,
      name,
      parent: parentUrn ? nameOfUrn(parentUrn) : undefined,
      custom: request.getCustom(),
      inputs: values,
      secretInputs: secretKeys,
    });
    const response = new resourceProto.RegisterResourceResponse();
    response.setUrn(urn);
    const raw = request.getObject() ? request.getObject().toJavaScript() : {};
    if (type === "pulumi:pulumi:Stack") {
      response.setObject(structProto.Struct.fromJavaScript(raw));
      return response;
    }
    const { id, state } = await this.mocks.newResource({
      type,
      name,
      inputs: values,
      provider: request.getProvider(),
      custom: request.getCustom(),
    });
    if (this.preview) {
      // A preview of a create: the id is unknown, and so is every output the inputs do not give.
      response.setId("");
      response.setObject(structProto.Struct.fromJavaScript(previewOutputs(raw, state)));
      return response;
    }
    const computed = Object.fromEntries(
      Object.entries(state).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(values[key])),
    );
    response.setId(request.getCustom() ? (id ?? "") : "");
    response.setObject(structProto.Struct.fromJavaScript({ ...raw, ...computed }));
    return response;
  }

  private async invoke(request: any): Promise<unknown> {
    const token: string = request.getTok();
    const args = decodeStruct(request.getArgs()).values;
    this.invokes.push({ token, args });
    const response = new providerProto.InvokeResponse();
    response.setReturn(structProto.Struct.fromJavaScript(await this.mocks.call({ token, inputs: args })));
    return response;
  }
}

/**
 * Runs the program in `projectDir` for `stack` as the Pulumi CLI and language host would, and
 * returns what the engine saw. Never throws for a failing program: the exit code and stderr say it.
 */
export async function runProgram(options: ProgramOptions): Promise<ProgramRun> {
  const program = projectProgram(options.projectDir);
  const engine = new LoopbackEngine(program.project, options.stack, options.preview);
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
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
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
      program: { entry: program.entry, pwd: program.pwd, nodeVersion },
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

/** Config as the engine hands it to a program: every value a string, objects as JSON text. */
export function engineConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

/** Pulumi.<stack>.yaml's `config:` block as `pulumi config` holds it. */
export function stackConfigFile(projectDir: string, stack: string): Record<string, unknown> {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  const document = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  return document.config ?? {};
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
