/**
 * A stack program's config as the Pulumi CLI assembles it from Pulumi.yaml and Pulumi.<stack>.yaml,
 * read without the CLI: for the offline plan (plan.ts) and for `queue-patterns/testing`'s
 * exerciseProgram, which run the program the same way.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";

/** A config section the stack turns off with `enabled: false`: a component not planned. */
export interface DisabledComponent {
  /** The config key, `queue-patterns:persistentEniAsg`. */
  key: string;
  /** The file that turns it off. */
  file: string;
}

/** The config a stack program runs with, as the Pulumi CLI assembles it from the project and stack files. */
export interface StackConfig {
  config: Record<string, unknown>;
  secretKeys: string[];
  files: string[];
  disabled: DisabledComponent[];
}

/** What a program gets for a value the stack file holds encrypted: the plan cannot decrypt it. */
const SECRET_PLACEHOLDER = "offline-plan-secret";

/** The stack a plan uses when none is named: the one Pulumi.<stack>.yaml beside Pulumi.yaml, else "dev". */
export function defaultStack(programDir: string): string {
  const stacks = fs
    .readdirSync(programDir)
    .map((file) => /^Pulumi\.(.+)\.ya?ml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined);
  return stacks.length === 1 ? stacks[0] : "dev";
}

function readYaml(file: string): Record<string, any> {
  return (yaml.load(fs.readFileSync(file, "utf8")) as Record<string, any> | undefined) ?? {};
}

/** `key` with the project's namespace when it has none, as Pulumi reads config keys. */
function namespaced(project: string, key: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

/**
 * The stack's config: Pulumi.yaml's `config:` (plain values, or `value:`/`default:` of a declared
 * key), then Pulumi.<stack>.yaml's over it. A `secure:` value cannot be decrypted offline: the
 * program gets a placeholder, marked secret. Sections with `enabled: false` are listed as disabled.
 */
export function stackConfig(programDir: string, stack: string): StackConfig {
  const projectFile = path.join(programDir, "Pulumi.yaml");
  const project = readYaml(projectFile);
  const config: Record<string, unknown> = {};
  /** The file each key's value comes from. */
  const source = new Map<string, string>();
  const secretKeys = new Set<string>();
  const files = [projectFile];
  for (const [key, declared] of Object.entries<any>(project.config ?? {})) {
    const isDeclaration = isRecord(declared) && ("value" in declared || "default" in declared);
    const value = isDeclaration ? (declared.value ?? declared.default) : declared;
    if (value === undefined) continue;
    config[namespaced(project.name, key)] = value;
    source.set(namespaced(project.name, key), projectFile);
  }
  const stackFile = [".yaml", ".yml"].map((ext) => path.join(programDir, `Pulumi.${stack}${ext}`)).find(fs.existsSync);
  if (stackFile) {
    files.push(stackFile);
    for (const [key, value] of Object.entries<unknown>(readYaml(stackFile).config ?? {})) {
      const name = namespaced(project.name, key);
      const found = { secret: false };
      config[name] = withoutSecure(value, found);
      source.set(name, stackFile);
      if (found.secret) secretKeys.add(name);
    }
  }
  const disabled = Object.entries(config)
    .filter(([, value]) => isRecord(value) && value.enabled === false)
    .map(([key]) => ({ key, file: path.basename(source.get(key)!) }));
  return { config, secretKeys: [...secretKeys], files, disabled };
}

function withoutSecure(value: unknown, found: { secret: boolean }): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutSecure(item, found));
  if (!isRecord(value)) return value;
  if (Object.keys(value).length === 1 && typeof value.secure === "string") {
    found.secret = true;
    return SECRET_PLACEHOLDER;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutSecure(item, found)]));
}

export function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Config as the engine hands it to a program: every value a string, objects as JSON text. */
export function engineConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}
