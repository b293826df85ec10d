/**
 * A whole stack program exercised locally: run in this process under the testing mocks, as
 * `pulumi preview` would run it (its project and stack, the stack's config from Pulumi.<stack>.yaml),
 * then every component it declared run end to end with sample events on emulators.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import type { FanOutIngest } from "../components/fan-out-ingest";
import type { FifoIngester } from "../components/fifo-ingester";
import type { ScheduledNotifier } from "../components/scheduled-notifier";
import { defaultStack, engineConfig, stackConfig } from "../cli/stack-config";
import { EmulatorLease, type ExerciseOptions } from "./exercise";
import { exerciseFanOutIngest, type FanOutIngestRun } from "./fan-out-ingest";
import { exerciseFifoIngester, type FifoIngesterRun } from "./fifo-ingester";
import { EXISTING_NAMESPACE_LOOKUP, installMocks } from "./mocks";
import { exerciseScheduledNotifier, type ScheduledNotifierRun } from "./scheduled-notifier";

/** The five patterns, by the type token their components register. */
const PATTERN_TYPES: Record<string, string> = {
  "queue-patterns:aws:FifoIngester": "FifoIngester",
  "queue-patterns:aws:ScheduledNotifier": "ScheduledNotifier",
  "queue-patterns:aws:PersistentEniAsg": "PersistentEniAsg",
  "queue-patterns:azure:FanOutIngest": "FanOutIngest",
  "queue-patterns:azure:DedupForwardingQueue": "DedupForwardingQueue",
};

/** A component `exerciseProgram` does not run locally yet, and why. */
export interface ComponentNotExercised {
  component: "PersistentEniAsg" | "DedupForwardingQueue";
  name: string;
  skipped: string;
}

/** A component whose local run failed (building its artifact, starting it, or an emulator). */
export interface ComponentFailed {
  component: string;
  name: string;
  error: string;
}

export type ComponentExercise =
  FifoIngesterRun | ScheduledNotifierRun | FanOutIngestRun | ComponentNotExercised | ComponentFailed;

export interface ProgramExercise {
  project: string;
  stack: string;
  /** The file that was run. */
  entry: string;
  /** One per component the program declared, in declaration order; a disabled component is absent. */
  components: ComponentExercise[];
}

export interface ProgramOptions extends ExerciseOptions {
  /**
   * The stack whose config (Pulumi.<stack>.yaml) the program reads.
   * @default the only Pulumi.<stack>.yaml of the folder, else "dev"
   */
  stack?: string;
  /**
   * Answers for provider functions (invokes) the program calls, by token, beside those the testing
   * mocks answer (Azure's client config, AWS's public AMI parameters, an existing Service Bus namespace).
   */
  calls?: Record<string, (inputs: Record<string, any>) => Record<string, any>>;
}

const NOT_YET: Record<ComponentNotExercised["component"], string> = {
  PersistentEniAsg:
    "not run locally by queue-patterns/testing yet: its attacher needs EC2 and Auto Scaling, which have no emulator",
  DedupForwardingQueue:
    "not run locally by queue-patterns/testing yet: it needs Service Bus sessions, which have no emulator here",
};

interface Project {
  name: string;
  main?: string;
  runtime: string | { name: string; options?: { typescript?: boolean; tsconfig?: string } };
}

function readYaml<T>(file: string): T {
  return yaml.load(fs.readFileSync(file, "utf8")) as T;
}

/** tsconfig.json's own `compilerOptions` (JSON with comments; an unreadable file counts as none). */
function compilerOptionsOf(file: string): { outDir?: string; rootDir?: string } {
  try {
    const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, "");
    return (yaml.load(text) as { compilerOptions?: { outDir?: string; rootDir?: string } }).compilerOptions ?? {};
  } catch {
    return {};
  }
}

/** A folder's entry as `require` finds it: its package.json's, else its index.js or index.ts. */
function folderEntry(folder: string): string {
  if (fs.existsSync(path.join(folder, "package.json"))) return require.resolve(folder);
  const index = ["index.js", "index.ts"].map((file) => path.join(folder, file)).find((file) => fs.existsSync(file));
  if (!index) throw new Error(`${folder} holds no program: set main in Pulumi.yaml, or add index.ts or index.js`);
  return index;
}

/**
 * The program's entry as the Node.js language host finds it: Pulumi.yaml's `main` (a file, or a
 * folder resolved like a package), else the project folder, resolved the same way. A
 * TypeScript entry is replaced by its compiled JavaScript when tsconfig.json's `outDir` holds it.
 */
function entryOf(programDir: string, project: Project): string {
  const main = project.main ? path.resolve(programDir, project.main) : programDir;
  const entry = fs.statSync(main).isDirectory() ? folderEntry(main) : main;
  if (!entry.endsWith(".ts")) return entry;
  const tsconfigFile = path.join(programDir, "tsconfig.json");
  if (fs.existsSync(tsconfigFile)) {
    const compilerOptions = compilerOptionsOf(tsconfigFile);
    if (compilerOptions.outDir) {
      const rootDir = path.resolve(programDir, compilerOptions.rootDir ?? ".");
      const compiled = path
        .join(path.resolve(programDir, compilerOptions.outDir), path.relative(rootDir, entry))
        .replace(/\.ts$/, ".js");
      if (fs.existsSync(compiled)) return compiled;
    }
  }
  return entry;
}

/**
 * Compiles TypeScript as `pulumi preview` does (Pulumi's cmd/run): ts-node from the program's
 * dependencies or the one vendored in @pulumi/pulumi, to CommonJS, without type checking. The
 * modules land in `require.cache`, where the closure serializer finds them.
 */
function registerTypeScript(programDir: string, project: Project): void {
  const tsutils = require("@pulumi/pulumi/tsutils") as {
    typeScriptRequireStrings(): { tsnodeRequire: string; typescriptRequire: string };
  };
  const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
  const options = typeof project.runtime === "object" ? (project.runtime.options ?? {}) : {};
  const tsconfig = path.join(programDir, options.tsconfig ?? "tsconfig.json");
  (require(tsnodeRequire) as { register(options: object): void }).register({
    compiler: typescriptRequire,
    transpileOnly: true,
    project: tsconfig,
    skipProject: !fs.existsSync(tsconfig),
    compilerOptions: { target: "ES2020", module: "commonjs", moduleResolution: "node", sourceMap: true },
  });
}

/** Runs one component with its sample events; a failure is reported, never thrown. */
async function exerciseComponent(
  component: string,
  name: string,
  resource: pulumi.Resource,
  lease: EmulatorLease,
  options: ProgramOptions,
): Promise<ComponentExercise> {
  try {
    switch (component) {
      case "FifoIngester":
        return await exerciseFifoIngester(resource as FifoIngester<unknown>, undefined, {
          ...options,
          fauxqs: await lease.useFauxqs(),
        });
      case "ScheduledNotifier":
        return await exerciseScheduledNotifier(
          resource as ScheduledNotifier,
          {},
          { ...options, fauxqs: await lease.useFauxqs() },
        );
      case "FanOutIngest":
        return await exerciseFanOutIngest(
          resource as FanOutIngest<unknown>,
          {},
          {
            ...options,
            azurite: await lease.useAzurite(),
          },
        );
      default:
        return {
          component: component as ComponentNotExercised["component"],
          name,
          skipped: NOT_YET[component as ComponentNotExercised["component"]],
        };
    }
  } catch (error) {
    return { component, name, error: (error as Error)?.stack ?? String(error) };
  }
}

/**
 * Runs the stack program in `programDir` (the folder of its Pulumi.yaml) in this process under the
 * testing mocks, with the stack's config, and exercises every component it declared with sample
 * events: FifoIngester with two sample records, ScheduledNotifier with one scheduled run,
 * FanOutIngest with one run. Emulators start on free loopback ports when first needed and stop at
 * the end. The mocks stay installed in this process afterwards: run it in a process of its own (a
 * test file of its own).
 */
export async function exerciseProgram(programDir: string, options: ProgramOptions = {}): Promise<ProgramExercise> {
  const dir = path.resolve(programDir);
  const progress = (line: string) => options.onProgress?.(line);
  const project = readYaml<Project>(path.join(dir, "Pulumi.yaml"));
  const stack = options.stack ?? defaultStack(dir);
  const { config, secretKeys } = stackConfig(dir, stack);
  const recorder = installMocks({ ...EXISTING_NAMESPACE_LOOKUP, ...options.calls }, { project: project.name, stack });
  pulumi.runtime.setAllConfig(engineConfig(config), secretKeys);
  const entry = entryOf(dir, project);
  if (entry.endsWith(".ts")) {
    progress(`compiling ${path.relative(dir, entry)} with ts-node, as pulumi preview does`);
    registerTypeScript(dir, project);
  }
  progress(`running ${path.relative(dir, entry) || entry} as stack "${stack}" under the testing mocks`);
  const previous = process.cwd();
  process.chdir(path.dirname(entry));
  try {
    const exported = require(entry) as unknown;
    if (typeof exported === "function") await (exported as () => unknown)();
  } finally {
    process.chdir(previous);
  }
  await recorder.settle();
  const declared = recorder.components
    .filter((recorded) => recorded.type in PATTERN_TYPES)
    .map((recorded) => ({ component: PATTERN_TYPES[recorded.type], name: recorded.name, resource: recorded.resource }));
  progress(
    declared.length === 0
      ? "the program declares no queue-patterns component"
      : `components: ${declared.map((c) => `${c.component} "${c.name}"`).join(", ")}`,
  );
  const lease = new EmulatorLease(options);
  const components: ComponentExercise[] = [];
  try {
    for (const { component, name, resource } of declared) {
      const result = await exerciseComponent(component, name, resource, lease, options);
      progress(`${component} "${name}": ${"error" in result ? "FAILED" : "skipped" in result ? "skipped" : "done"}`);
      components.push(result);
    }
  } finally {
    await lease.stop();
  }
  return { project: project.name, stack, entry, components };
}
