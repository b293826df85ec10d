/**
 * The offline plan of a stack program: the program runs as `pulumi preview` runs it (Pulumi's own
 * `cmd/run`, which compiles it, with the stack's config from Pulumi.yaml and Pulumi.<stack>.yaml)
 * against the loopback engine of language-host.ts, which answers each create with the id and
 * outputs its provider would return, in the provider's documented formats. No cloud is asked.
 *
 * `runPlan` runs it and returns what was declared; `renderPlan` prints it as `pulumi preview` does:
 * a tree by parent, one `+ create` line per resource with the type token as Pulumi displays it, and
 * the summary. With `details`, each resource's inputs follow it; values the providers compute at
 * deployment read `output<string>`, with the output they come from, and inside documents (policies)
 * as `${resource.output}`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Invoke, type ProgramEvent, type Registration, runProgram } from "./language-host";
import { type DisabledComponent, defaultStack, isRecord, stackConfig } from "./stack-config";
import { AWS_ACCOUNT_CALLS } from "../testing/provider-calls";
import { MOCK_ACCOUNT } from "../testing/provider-state";

export interface PlanOptions {
  /**
   * The stack whose Pulumi.<stack>.yaml holds the config.
   * @default the one stack file beside Pulumi.yaml, else "dev"
   */
  stack?: string;
  /** Called with a line for each step as it happens (compiling, running, waiting on builds). */
  onProgress?: (line: string) => void;
}

export interface PlanResult {
  programDir: string;
  project: string;
  stack: string;
  /** The config files read, Pulumi.yaml first. */
  configFiles: string[];
  /** The program's failure as Pulumi would print it (error logs and stderr); undefined when it ran. */
  failure?: string;
  /** Every resource the program declared, the stack first, in registration order. */
  resources: Registration[];
  /** The functions it called, with the answers it got. */
  invokes: Invoke[];
  disabled: DisabledComponent[];
  /** The stack's outputs, by name. */
  outputs: Record<string, unknown>;
  nodeVersion: string;
  seconds: number;
}

/**
 * Runs the program in `programDir` as `pulumi preview` runs it, against the loopback engine, and
 * returns what it declared. Never throws for a failing program: `failure` says what happened.
 */
export async function runPlan(programDir: string, options: PlanOptions = {}): Promise<PlanResult> {
  const dir = path.resolve(programDir);
  if (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    throw new Error(`${dir} holds no Pulumi.yaml: name the folder of a Pulumi project`);
  }
  const stack = options.stack ?? defaultStack(dir);
  const { config, secretKeys, files, disabled } = stackConfig(dir, stack);
  const progress = options.onProgress ? planProgress(options.onProgress) : undefined;
  const started = Date.now();
  try {
    const run = await runProgram({
      projectDir: dir,
      stack,
      config,
      secretKeys,
      preview: true,
      answerOutputs: true,
      calls: AWS_ACCOUNT_CALLS,
      onEvent: progress?.onEvent,
    });
    const failed = run.exitCode !== 0;
    return {
      programDir: dir,
      project: run.program.project,
      stack,
      configFiles: files,
      failure: failed
        ? [...run.logs.filter((line) => line.severity === "error").map((line) => line.message), run.stderr]
            .join("\n")
            .trim() || `the program exited with code ${run.exitCode}`
        : undefined,
      resources: run.registrations,
      invokes: run.invokes,
      disabled,
      outputs: run.stackOutputs ?? {},
      nodeVersion: run.program.nodeVersion,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    progress?.stop();
  }
}

/** How long without news before a progress line says what is still running. */
const QUIET_MS = 5_000;

/**
 * Progress lines for a program run, from what the engine sees: the program starting, TypeScript
 * compiling it, each component declared, and, when nothing else happens for a while, the resources
 * declared whose inputs are still being computed (artifact builds, lookups).
 */
export function planProgress(write: (line: string) => void): {
  onEvent: (event: ProgramEvent) => void;
  stop: () => void;
} {
  const started = Date.now();
  let last = started;
  /** Resources the program declared whose registration has not reached the engine, by `type::name`. */
  const declared = new Map<string, string>();
  const arrived = new Set<string>();
  let registered = 0;
  let typescript = false;
  const say = (text: string) => {
    last = Date.now();
    write(`[${((last - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);
  };
  const timer = setInterval(() => {
    if (Date.now() - last < QUIET_MS) return;
    const waiting = [...declared.values()];
    say(
      waiting.length > 0
        ? `still running: ${registered} resources registered; waiting for the inputs of ${waiting.slice(0, 3).join(", ")}` +
            `${waiting.length > 3 ? ` and ${waiting.length - 3} more` : ""} (artifacts being built, outputs being computed)`
        : registered > 1
          ? `still running: ${registered} resources registered`
          : `still ${typescript ? "compiling and " : ""}loading the program`,
    );
  }, 1_000);
  timer.unref();
  return {
    onEvent(event) {
      switch (event.kind) {
        case "started":
          say(
            `running ${event.entry === "." ? "the package's main module" : event.entry} in ${event.pwd} ` +
              "as `pulumi preview` runs it (Pulumi's cmd/run)",
          );
          break;
        case "log": {
          const message = event.line.message;
          const compiler = /^Found typescript version (\S+)/.exec(message);
          if (compiler) {
            typescript = true;
            say(`compiling the program with TypeScript ${compiler[1]}`);
          }
          // The log line of a declaration can arrive after its registration: only those still to come wait.
          const declaring = /^Registering resource: t=([^,]+), name=([^,]+),/.exec(message);
          const key = declaring && `${declaring[1]}::${declaring[2]}`;
          if (declaring && key && !arrived.has(key)) declared.set(key, `${displayType(declaring[1])} ${declaring[2]}`);
          break;
        }
        case "registered": {
          const { type, name, custom } = event.registration;
          arrived.add(`${type}::${name}`);
          declared.delete(`${type}::${name}`);
          registered++;
          if (!custom && type !== STACK_TYPE) say(`declaring ${displayType(type)} ${name}`);
          break;
        }
        case "exited":
          say(
            event.exitCode === 0
              ? `the program finished: ${resources(registered)}`
              : `the program failed (exit code ${event.exitCode})`,
          );
          break;
      }
    },
    stop: () => clearInterval(timer),
  };
}

const STACK_TYPE = "pulumi:pulumi:Stack";

function resources(count: number): string {
  return `${count} resource${count === 1 ? "" : "s"}`;
}

/**
 * A type token as Pulumi's display shows it: `aws:sqs/queue:Queue` reads `aws:sqs:Queue` (the
 * module's file part dropped when it is the type's name in camel case; `simplifyTypeName` in
 * pulumi/pkg/backend/display), other tokens as they are.
 */
export function displayType(type: string): string {
  const parts = type.split(":");
  if (parts.length !== 3 || parts[2] === "") return type;
  const [pkg, module, name] = parts;
  const slash = module.lastIndexOf("/");
  if (slash === -1) return type;
  const file = module.slice(slash + 1);
  if (file !== name[0].toLowerCase() + name.slice(1)) return type;
  return `${pkg}:${module.slice(0, slash)}:${name}`;
}

export interface RenderOptions {
  /** Each resource's inputs beneath it. */
  details?: boolean;
}

interface Node {
  resource: Registration;
  children: Node[];
}

/** The resources as a tree by parent, in registration order; resources without a parent hang from the stack. */
function tree(resources: Registration[]): Node[] {
  const nodes = new Map(resources.map((resource) => [resource.urn, { resource, children: [] as Node[] }]));
  const roots: Node[] = [];
  const stack = resources.find((r) => r.type === STACK_TYPE);
  for (const node of nodes.values()) {
    if (node.resource.type === STACK_TYPE) {
      roots.push(node);
      continue;
    }
    const parent = (node.resource.parentUrn && nodes.get(node.resource.parentUrn)) || (stack && nodes.get(stack.urn));
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}

/** Renders the plan as `pulumi preview` prints one (see the file comment). */
export function renderPlan(result: PlanResult, options: RenderOptions = {}): string {
  const lines: string[] = [];
  lines.push(`Previewing update (${result.stack}), offline:`);
  lines.push(
    `    ${result.project} in ${result.programDir}, config from ${result.configFiles.map((f) => path.basename(f)).join(" and ")}; ` +
      `the program ran as \`pulumi preview\` runs it on Node.js ${result.nodeVersion}, no cloud was asked`,
  );
  lines.push("");
  if (result.failure !== undefined) {
    lines.push("Diagnostics:", ...indent(result.failure.split("\n"), "    "), "");
    lines.push(`The program failed: ${resources(result.resources.length)} declared before it stopped.`);
    return lines.join("\n");
  }
  const references = outputReferences(result);
  const rows: { prefix: string; resource: Registration; details: string[] }[] = [];
  const walk = (node: Node, prefix: string, continuation: string) => {
    const details = options.details
      ? propertyLines(node.resource, references).map(
          (line) => `${continuation}${node.children.length > 0 ? "│  " : "   "}   ${line}`,
        )
      : [];
    rows.push({ prefix, resource: node.resource, details });
    node.children.forEach((child, index) => {
      const lastChild = index === node.children.length - 1;
      walk(child, `${continuation}${lastChild ? "└─ " : "├─ "}`, `${continuation}${lastChild ? "   " : "│  "}`);
    });
  };
  for (const root of tree(result.resources)) walk(root, "", "");
  const typeWidth = Math.max(4, ...rows.map((row) => row.prefix.length + displayType(row.resource.type).length));
  const nameWidth = Math.max(4, ...rows.map((row) => row.resource.name.length));
  lines.push(`     ${"Type".padEnd(typeWidth)}  ${"Name".padEnd(nameWidth)}  Plan`);
  for (const row of rows) {
    const type = `${row.prefix}${displayType(row.resource.type)}`;
    lines.push(` +   ${type.padEnd(typeWidth)}  ${row.resource.name.padEnd(nameWidth)}  create`);
    lines.push(...row.details.map((line) => `     ${line}`.trimEnd()));
  }
  if (result.disabled.length > 0) {
    lines.push("", "Disabled (enabled: false), nothing planned:");
    for (const { key, file } of result.disabled) lines.push(`    ${key}  (${file})`);
  }
  const outputNames = Object.keys(result.outputs);
  if (outputNames.length > 0) {
    lines.push("", "Outputs:");
    const width = Math.max(...outputNames.map((name) => name.length));
    for (const name of outputNames) {
      const value = formatValue(result.outputs[name], references, "    ", new Set());
      lines.push(`    ${name.padEnd(width)}: ${value[0]}`, ...value.slice(1));
    }
  }
  lines.push("", "Resources:", `    + ${result.resources.length} to create`);
  return lines.join("\n");
}

function indent(lines: string[], by: string): string[] {
  return lines.map((line) => `${by}${line}`);
}

/**
 * The values the engine made up for outputs and function results, longest first, each with where it
 * comes from (`fifoIngester-queue.arn`, `getClientConfig().subscriptionId`): in a real preview they
 * are unknown until deployment, or read from the cloud. The deployer's AWS account comes first, as
 * `getCallerIdentity().accountId`; short values (regions) and the values a resource was given as
 * inputs itself are left alone.
 */
function outputReferences(result: PlanResult): [string, string][] {
  const found = new Map<string, string>([[MOCK_ACCOUNT, "getCallerIdentity().accountId"]]);
  const add = (value: string, reference: string, given?: Set<string>) => {
    if (value.length >= 8 && !given?.has(value) && !found.has(value)) found.set(value, reference);
  };
  for (const invoke of result.invokes) {
    const fn = invoke.token.split(":").pop();
    collectStrings(invoke.result, "", (value, at) => add(value, `${fn}().${at}`));
  }
  for (const resource of result.resources) {
    const given = new Set<string>();
    collectStrings(resource.inputs, "", (value) => given.add(value));
    // Outputs before the id: an AWS id that is the ARN reads better as `.arn`.
    collectStrings(resource.answered.outputs, "", (value, at) => add(value, `${resource.name}.${at}`, given));
    if (resource.answered.id) add(resource.answered.id, `${resource.name}.id`, given);
  }
  return [...found].sort(([a], [b]) => b.length - a.length);
}

function collectStrings(value: unknown, at: string, visit: (value: string, at: string) => void): void {
  if (typeof value === "string") visit(value, at);
  else if (Array.isArray(value)) value.forEach((item, index) => collectStrings(item, `${at}[${index}]`, visit));
  else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) collectStrings(item, at ? `${at}.${key}` : key, visit);
  }
}

/** The inputs of one resource, one `key: value` per line (objects over several), keys aligned. */
function propertyLines(resource: Registration, references: [string, string][]): string[] {
  const unknown = new Set(resource.unknownInputs);
  const keys = Object.keys(resource.inputs)
    .filter((key) => resource.inputs[key] !== undefined || unknown.has(key))
    .sort();
  const width = Math.max(0, ...keys.map((key) => key.length));
  const lines: string[] = [];
  for (const key of keys) {
    let value: string[];
    if (resource.secretInputs.includes(key)) value = ["[secret]"];
    else if (key === "__provider")
      value = [`[serialized dynamic provider, ${String(resource.inputs[key]).length} characters]`];
    else if (unknown.has(key)) value = ["output<string>"];
    else value = formatValue(resource.inputs[key], references, "", unknown, key);
    lines.push(`${key.padEnd(width)}: ${value[0]}`, ...value.slice(1));
  }
  return lines;
}

/**
 * One value as Pulumi prints a property: strings quoted, JSON documents parsed and marked `(json)`,
 * objects and lists over several lines, assets and archives by what they hold. `at` is the property
 * path, to find the unknown parts; the first line goes after `key: `, the others start with `margin`.
 */
function formatValue(
  value: unknown,
  references: [string, string][],
  margin: string,
  unknown: Set<string>,
  at = "",
): string[] {
  if (value === null) return ["null"];
  if (typeof value === "string") return formatString(value, references, margin, unknown, at);
  if (typeof value !== "object") return [String(value)];
  if (Array.isArray(value)) {
    if (value.length === 0) return ["[]"];
    const lines = ["["];
    value.forEach((item, index) => {
      const path = `${at}[${index}]`;
      const inner =
        item === undefined && unknown.has(path)
          ? ["output<string>"]
          : formatValue(item, references, `${margin}    `, unknown, path);
      lines.push(`${margin}    [${index}]: ${inner[0]}`, ...inner.slice(1));
    });
    return [...lines, `${margin}]`];
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && (keys[0] === "archive" || keys[0] === "asset")) {
    const held = record[keys[0]];
    return [`${keys[0]}(${Array.isArray(held) ? held.join(", ") : String(held)})`];
  }
  const shown = keys.filter((key) => record[key] !== undefined || unknown.has(childPath(at, key))).sort();
  if (shown.length === 0) return ["{}"];
  const width = Math.max(...shown.map((key) => key.length));
  const lines = ["{"];
  for (const key of shown) {
    const path = childPath(at, key);
    const inner =
      record[key] === undefined
        ? ["output<string>"]
        : formatValue(record[key], references, `${margin}    `, unknown, path);
    lines.push(`${margin}    ${key.padEnd(width)}: ${inner[0]}`, ...inner.slice(1));
  }
  return [...lines, `${margin}}`];
}

function childPath(parent: string, key: string): string {
  const simple = /^[A-Za-z_$][\w$]*$/.test(key);
  if (!parent) return simple ? key : `[${JSON.stringify(key)}]`;
  return simple ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function formatString(
  value: string,
  references: [string, string][],
  margin: string,
  unknown: Set<string>,
  at: string,
): string[] {
  const whole = references.find(([made]) => made === value);
  if (whole) return [`output<string> (${whole[1]})`];
  const trimmed = value.trim();
  if ((trimmed.startsWith("{") && trimmed.endsWith("}")) || (trimmed.startsWith("[") && trimmed.endsWith("]"))) {
    try {
      const document = JSON.parse(trimmed) as unknown;
      const lines = formatValue(document, references, margin, unknown, at);
      return [`(json) ${lines[0]}`, ...lines.slice(1)];
    } catch {
      // Not JSON after all: printed as text.
    }
  }
  let text = value;
  for (const [made, reference] of references) {
    if (text.includes(made)) text = text.split(made).join(`\${${reference}}`);
  }
  const role = builtInRoleName(value);
  const lines = text.split("\n");
  if (lines.length === 1) return [`${JSON.stringify(text)}${role ? ` (${role})` : ""}`];
  return ["(text) <<", ...lines.map((line) => `${margin}    ${line}`), `${margin}    >>`];
}

let roleNames: Map<string, string> | undefined;

/** The built-in Azure role a role definition id names, from the library's table of the roles it grants. */
function builtInRoleName(value: string): string | undefined {
  const guid = /\/roleDefinitions\/([0-9a-f-]{36})$/i.exec(value)?.[1];
  if (!guid) return undefined;
  if (!roleNames) {
    // Loaded when first needed: the table's module loads the Azure provider's SDK.
    const { BUILT_IN_ROLES } = require("../components/azure/roles") as typeof import("../components/azure/roles");
    roleNames = new Map(Object.entries(BUILT_IN_ROLES).map(([name, id]) => [id.toLowerCase(), name]));
  }
  return roleNames.get(guid.toLowerCase());
}
