/**
 * Child-process side of the artifact runner: plays the function platform around an unpacked artifact.
 * - AWS Lambda: requires `index.js` and calls `handler(event, context)`; console calls become the
 *   lines of Lambda's JSON log format (the format the components configure), as its runtime client
 *   writes them.
 * - Azure Functions: provides `@azure/functions-core` the way the Functions worker does, so the
 *   bundle's `app.*` calls register for real, then calls the registered handlers.
 * It talks to the parent over IPC: `{ id, kind: "invoke", ... }` in, `{ id, result | error, logs }` out.
 */
import Module = require("node:module");
import * as path from "node:path";
import { format } from "node:util";

type Handler = (...args: unknown[]) => unknown;
interface Registration {
  metadata: { name: string; bindings: Record<string, unknown> };
  handler: Handler;
}

const [artifactDir, host] = process.argv.slice(2);
const registrations = new Map<string, Registration>();
let logs: string[] = [];

/** The current Lambda invocation's request id, which the runtime client puts on every line. */
let requestId: string | undefined;

/** The level Lambda's runtime client gives each console method. */
const LAMBDA_LEVELS = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG" } as const;

/**
 * One line of Lambda's JSON log format, as the Node.js runtime client writes a console call
 * (aws-lambda-nodejs-runtime-interface-client src/LogPatch.js, formatJsonMessage): timestamp, level
 * and request id, and `message`: the only argument as it is (an object stays an object), or all
 * arguments formatted into one string (util.format).
 */
function lambdaJsonLogLine(method: keyof typeof LAMBDA_LEVELS, args: unknown[]): string {
  const line = { timestamp: new Date().toISOString(), level: LAMBDA_LEVELS[method], requestId };
  if (args.length === 1) {
    try {
      return JSON.stringify({ ...line, message: args[0] });
    } catch {
      return JSON.stringify({ ...line, message: format(args[0]) });
    }
  }
  return JSON.stringify({ ...line, message: format(...args) });
}

for (const level of ["log", "info", "warn", "error", "debug"] as const) {
  console[level] = (...args: unknown[]) => {
    if (host === "aws-lambda") logs.push(lambdaJsonLogLine(level, args));
    else logs.push(`${level}: ${args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")}`);
  };
}

if (host === "azure-functions") provideFunctionsCore();

function provideFunctionsCore(): void {
  const core = {
    version: "3.10.1",
    setProgrammingModel(): void {},
    registerHook: () => ({ dispose(): void {} }),
    registerFunction(metadata: Registration["metadata"], handler: Handler) {
      registrations.set(metadata.name, { metadata, handler });
      return { dispose: () => registrations.delete(metadata.name) };
    },
    log(level: string, _category: string, message: string): void {
      logs.push(`${level}: ${message}`);
    },
  };
  const moduleInternals = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = moduleInternals._load;
  moduleInternals._load = (request, ...rest) => (request === "@azure/functions-core" ? core : load(request, ...rest));
}

const entry = require(path.join(artifactDir, "index.js")) as { handler?: Handler };

function lambdaContext(functionName: string) {
  const deadline = Date.now() + 30_000;
  return {
    functionName,
    awsRequestId: `req-${Date.now()}-${Math.random().toString(16).slice(2)}`,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

function functionsContext(functionName: string, triggerMetadata: Record<string, unknown>) {
  const write =
    (level: string) =>
    (...args: unknown[]) =>
      logs.push(`${level}: ${args.map(String).join(" ")}`);
  return {
    invocationId: `inv-${Date.now()}`,
    functionName,
    triggerMetadata,
    retryContext: undefined,
    extraInputs: { get: () => undefined },
    extraOutputs: { set(): void {} },
    log: write("info"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    debug: write("debug"),
    trace: write("trace"),
    options: registrations.get(functionName)?.metadata,
  };
}

interface Request {
  id: number;
  kind: "invoke" | "registrations";
  functionName?: string;
  event?: unknown;
  triggerMetadata?: Record<string, unknown>;
}

process.on("message", async (request: Request) => {
  const reply = (body: Record<string, unknown>) => {
    process.send?.({ id: request.id, ...body, logs });
    logs = [];
  };
  if (request.kind === "registrations") {
    reply({ result: [...registrations.values()].map((r) => r.metadata) });
    return;
  }
  try {
    let result: unknown;
    if (host === "aws-lambda") {
      if (typeof entry.handler !== "function") throw new Error("the artifact exports no handler function");
      const context = lambdaContext(request.functionName ?? "function");
      requestId = context.awsRequestId;
      result = await entry.handler(request.event, context);
    } else {
      const registration = registrations.get(request.functionName ?? "");
      if (!registration) throw new Error(`no function named ${request.functionName} was registered`);
      result = await registration.handler(
        request.event,
        functionsContext(registration.metadata.name, request.triggerMetadata ?? {}),
      );
    }
    reply({ result: result === undefined ? null : result });
  } catch (error) {
    const e = error as Error;
    reply({ error: { name: e?.name, message: e?.message ?? String(error) } });
  }
});

process.send?.({ ready: true, nodeVersion: process.version });
