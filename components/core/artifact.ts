/**
 * Inline callbacks -> one deployable, deterministic archive.
 *
 * 1. Each user callback is captured with `pulumi.runtime.serializeFunction` (the Pulumi closure
 *    serializer; it resolves captured `node_modules` only for CommonJS modules in `require.cache`).
 * 2. esbuild bundles an entry that starts the component's runtime module (real compiled files under
 *    `runtime/`) with those callbacks into ONE minified CommonJS file. The serializer emits `with`
 *    statements, which is why the output cannot be ESM.
 * 3. The files are zipped with fixed timestamps, modes and order, so the same code gives the same
 *    bytes and `pulumi preview` shows no code diff when nothing changed.
 * Steps 2 and 3 are skipped when the same archive was built before (bundle-cache.ts); esbuild is
 * loaded only when something is bundled. With `sourceMap`, the archive also carries the bundle's
 * source map, which maps the callbacks to their own sources (callback-source-map.ts).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { zipSync } from "fflate";
import { bundleEntry, CAPTURE_HELP, ClosurePackagingError, entrySource, messageOf, moduleRoots } from "./bundle";
import { bundleCacheDir, cacheKey, cachedArtifact, fileDigest } from "./bundle-cache";
import { callbackSourceMapComment } from "./callback-source-map";
import type { Callbacks, RuntimeFactory } from "./runtime-factory";

/** Where an artifact runs; it decides the externals and the archive layout. */
export type FunctionHost = "aws-lambda" | "azure-functions";

/**
 * What an artifact starts: a runtime entry's factory (see `runtime-factory.ts`) and the plain JSON
 * options it is called with at cold start: ids, names, settings, never secrets. Build one with
 * {@link runtimeEntry}, which checks the options against the factory's.
 */
export interface RuntimeEntry<C extends Callbacks = Callbacks, O = unknown> {
  runtime: RuntimeFactory<C, O>;
  options: O;
}

/** The entry that starts `runtime` with `options`; a wrong option is a compile error. */
export function runtimeEntry<C extends Callbacks, O>(
  runtime: RuntimeFactory<C, O>,
  options: NoInfer<O>,
): RuntimeEntry<C, O> {
  return { runtime, options };
}

/** What to package. */
export interface ArtifactSpec<C extends Callbacks = Callbacks> {
  /** Names the component instance in errors, e.g. `FifoIngester "listings"`. */
  owner: string;
  host: FunctionHost;
  /** The options were checked against the factory when the entry was made (`runtimeEntry`). */
  entry: RuntimeEntry<C, any>;
  /** The user's inline callbacks by argument name (`handler`, `source`, ...); undefined ones are skipped. */
  callbacks: C;
  /** Node.js major version of the function runtime; esbuild targets it. */
  nodeMajor: number;
  /** Module patterns left out of the bundle because the platform provides them. */
  external?: string[];
  /** Files placed beside `index.js` (Azure's host.json and package.json). */
  extraFiles?: Record<string, string>;
  /**
   * Ship a source map beside the bundle and turn on Node's source-map support at cold start, so a
   * stack trace names the line of the callback's own source (TypeScript, when the program was
   * compiled with source maps or runs under ts-node) and of the runtime's. The archive then holds
   * `index.js` (which enables source maps, then loads the bundle), `bundle.js` and `bundle.js.map`.
   * @default false
   */
  sourceMap?: boolean;
}

/**
 * A packaged function. Plain strings only: Outputs copy objects deeply and would turn bytes into
 * plain objects, so the zip travels as base64 (`zipBytes` decodes it).
 */
export interface Artifact {
  /** The archive's files by name; `index.js` is the bundle. */
  files: Record<string, string>;
  /** The zip archive, base64. */
  zipBase64: string;
  /** SHA-256 of the zip, hex. */
  sha256: string;
}

/** The zip archive's bytes. */
export function zipBytes(artifact: Artifact): Buffer {
  return Buffer.from(artifact.zipBase64, "base64");
}

export { ClosurePackagingError } from "./bundle";

/** The name of the bundle inside every archive (with `sourceMap`, the file that loads it). */
export const BUNDLE_FILE = "index.js";
/** With `sourceMap`, the bundle and its map, beside the `index.js` that loads it. */
export const MAPPED_BUNDLE_FILE = "bundle.js";

/** The bundle's first line, naming the Node.js major it was built for: `// Node.js 24 (queue-patterns artifact)`. */
const NODE_MAJOR_BANNER = /^\/\/ Node\.js (\d+) \(queue-patterns artifact\)\n/;

function nodeMajorBanner(nodeMajor: number): string {
  return `// Node.js ${nodeMajor} (queue-patterns artifact)`;
}

/**
 * The Node.js major a bundle declares on its first line (the `nodeMajor` it was built for), so the
 * archive alone says which runtime it needs; undefined for a file that is not such a bundle.
 */
export function declaredNodeMajor(bundle: string): number | undefined {
  const match = bundle.match(NODE_MAJOR_BANNER);
  return match ? Number(match[1]) : undefined;
}

/**
 * Deflate level of every archive: the smallest. Level 6 takes about half the time (fflate deflates
 * in JavaScript, on the program's thread), but the bundle cache already spares a preview the zip
 * of every unchanged function, and 9 keeps each archive, and so each function's code hash, as it was.
 */
export const ZIP_LEVEL = 9;
/** A fixed local time: fflate writes DOS timestamps from local date parts, so this is zone-proof. */
const ZIP_MTIME = new Date(1980, 0, 1, 0, 0, 0);
/** Regular file, rw-r--r--, in the zip's external attributes (Unix mode in the high 16 bits). */
const ZIP_FILE_ATTRS = (0o100644 << 16) >>> 0;
const ZIP_UNIX = 3;

/**
 * Serializes every callback, then bundles the entry and zips the result, or takes the archive built
 * before from the same inputs (bundle-cache.ts).
 */
export async function buildArtifact<C extends Callbacks>(spec: ArtifactSpec<C>): Promise<Artifact> {
  const serialized = await serializeCallbacks(spec);
  if (spec.sourceMap) await appendSourceMaps(spec, serialized);
  const key = cacheKey([
    builderVersion(),
    entrySource(spec, serialized),
    serialized,
    spec.nodeMajor,
    spec.external,
    spec.host,
    spec.extraFiles,
    spec.sourceMap ?? false,
    process.cwd(),
    moduleRoots(),
  ]);
  return cachedArtifact(key, bundleCacheDir(), async () => {
    const { bundle, sourceMap, inputs } = await bundleEntry(spec, serialized, {
      banner: nodeMajorBanner(spec.nodeMajor),
      mappedFile: spec.sourceMap ? MAPPED_BUNDLE_FILE : undefined,
    });
    const files: Record<string, string> =
      sourceMap === undefined
        ? { ...spec.extraFiles, [BUNDLE_FILE]: bundle }
        : {
            ...spec.extraFiles,
            [BUNDLE_FILE]: sourceMappedLoader(spec.nodeMajor),
            [MAPPED_BUNDLE_FILE]: bundle,
            [`${MAPPED_BUNDLE_FILE}.map`]: sourceMap,
          };
    const zip = zipDeterministic(files);
    const artifact: Artifact = {
      files,
      zipBase64: Buffer.from(zip).toString("base64"),
      sha256: createHash("sha256").update(zip).digest("hex"),
    };
    return { artifact, inputs };
  });
}

/**
 * What decides the bytes besides the spec and the bundled files: the esbuild release and the code
 * that builds (this module's zip and layout, bundle.ts's build settings and plugins, the source maps).
 */
function builderVersion(): (string | undefined)[] {
  const manifest = require.resolve("esbuild/package.json");
  esbuildVersion ??= (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
  const builders = [__filename, require.resolve("./bundle"), require.resolve("./callback-source-map")];
  return [esbuildVersion, ...builders.map(fileDigest)];
}
let esbuildVersion: string | undefined;

/** `buildArtifact` as an Output, for resource inputs. */
export function artifactOutput<C extends Callbacks>(spec: ArtifactSpec<C>): pulumi.Output<Artifact> {
  return pulumi.output(buildArtifact(spec));
}

/**
 * Writes the zip to a content-addressed file in the OS temp folder and returns its path; the same
 * archive always lands at the same name, so repeated runs reuse it.
 */
export function saveArtifact(artifact: Artifact): string {
  const dir = path.join(os.tmpdir(), "queue-patterns-artifacts");
  const file = path.join(dir, `${artifact.sha256}.zip`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    fs.writeFileSync(partial, zipBytes(artifact));
    fs.renameSync(partial, file);
  }
  return file;
}

/** Zips files in name order with fixed timestamps and modes: same files in, same bytes out. */
export function zipDeterministic(files: Record<string, string | Uint8Array>): Uint8Array {
  const entries: Parameters<typeof zipSync>[0] = {};
  for (const name of Object.keys(files).sort()) {
    const content = files[name];
    const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    entries[name] = [bytes, { level: ZIP_LEVEL, mtime: ZIP_MTIME, os: ZIP_UNIX, attrs: ZIP_FILE_ATTRS }];
  }
  return zipSync(entries);
}

async function serializeCallbacks(spec: ArtifactSpec): Promise<Record<string, string>> {
  const serialized: Record<string, string> = {};
  for (const [argument, callback] of Object.entries(spec.callbacks)) {
    if (callback === undefined) continue;
    if (typeof callback !== "function") {
      throw new ClosurePackagingError(
        `${spec.owner}: ${argument} must be a function; got ${typeof callback}. Pass an inline (async) function.`,
      );
    }
    try {
      const result = await pulumi.runtime.serializeFunction(callback, { exportName: "handler", allowSecrets: false });
      serialized[argument] = result.text;
    } catch (error) {
      const hint = await captureHint(callback, messageOf(error));
      throw new ClosurePackagingError(
        `${spec.owner}: the ${argument} callback cannot be packaged: ${messageOf(error)}\n${hint ?? CAPTURE_HELP}`,
      );
    }
  }
  return serialized;
}

/**
 * The fix for the two captures that fail deep inside a package, where the serializer's chain of
 * references never names it: a module imported under `esModuleInterop` (TypeScript wraps it with
 * `__importStar`, a plain object the serializer cannot recognise as a module) and a client object
 * created while the program ran. The captured value is read the way the serializer reads it;
 * undefined when the message names no variable or the value is neither.
 */
async function captureHint(callback: (...args: never[]) => unknown, message: string): Promise<string | undefined> {
  const variable = message.match(/captured\s+variable '([^']+)'/)?.[1];
  if (variable === undefined) return undefined;
  let value: unknown;
  try {
    const v8 = require("@pulumi/pulumi/runtime/closure/v8") as {
      lookupCapturedVariableValueAsync(
        func: (...args: never[]) => unknown,
        name: string,
        throwOnFailure: boolean,
      ): Promise<unknown>;
    };
    value = await v8.lookupCapturedVariableValueAsync(callback, variable, false);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const modules = Object.values(require.cache);
  const wrapped = (value as { default?: unknown }).default;
  if (wrapped !== undefined && modules.some((module) => module?.exports === wrapped)) {
    return (
      `\`${variable}\` is a module as TypeScript imports it with esModuleInterop: true (wrapped by __importStar), which ` +
      "the serializer cannot tell from a plain object. Compile the program with esModuleInterop off (the module is then " +
      "captured as a module and bundled), or import the module inside the callback."
    );
  }
  const constructor = Object.getPrototypeOf(value)?.constructor as
    (abstract new (...args: never[]) => unknown) | undefined;
  const definedIn = modules.find(
    (module) =>
      /[\\/]node_modules[\\/]/.test(module?.filename ?? "") &&
      module?.exports !== null &&
      typeof module?.exports === "object" &&
      Object.values(module.exports as object).includes(constructor),
  );
  if (constructor === undefined || definedIn === undefined) return undefined;
  return (
    `\`${variable}\` is a ${constructor.name} created while the Pulumi program ran; it holds that machine's credentials, ` +
    "connections and native objects, which cannot travel into the function. Create the client inside the callback, or " +
    "at module scope of a runtime module, so each function instance makes its own."
  );
}

/**
 * The entry of a source-mapped archive. Node reads a script's source map when it compiles the
 * script, and only while source maps are enabled: a bundle cannot enable them for itself, so this
 * file does (`process.setSourceMapsEnabled`, Node.js 16.6+, whatever NODE_OPTIONS the host sets)
 * and then loads it.
 */
function sourceMappedLoader(nodeMajor: number): string {
  return [
    nodeMajorBanner(nodeMajor),
    '"use strict";',
    "process.setSourceMapsEnabled(true);",
    `module.exports = require("./${MAPPED_BUNDLE_FILE}");`,
    "",
  ].join("\n");
}

/** Appends to each serialized callback the source map of its lines (callback-source-map.ts). */
async function appendSourceMaps(spec: ArtifactSpec, serialized: Record<string, string>): Promise<void> {
  const callbacks = spec.callbacks as Record<string, (...args: never[]) => unknown>;
  for (const argument of Object.keys(serialized)) {
    serialized[argument] += (await callbackSourceMapComment(callbacks[argument], serialized[argument])) ?? "";
  }
}
