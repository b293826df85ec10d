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
 * loaded only when something is bundled.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type * as esbuild from "esbuild";
import { zipSync } from "fflate";
import { bundleCacheDir, cacheKey, cachedArtifact, fileDigest } from "./bundle-cache";
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

/** A callback or its bundle could not be packaged; the message names the component and argument. */
export class ClosurePackagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClosurePackagingError";
  }
}

/** The name of the bundle inside every archive. */
export const BUNDLE_FILE = "index.js";

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

/** The Functions worker injects this module; bundling a copy would break trigger registration. */
const AZURE_WORKER_MODULES = ["@azure/functions-core"];

/**
 * Deflate level of every archive. 6 (zlib's default) gives archives within a few bytes of level 9's
 * for minified bundles, in about half the time (fflate deflates in JavaScript, on the program's thread).
 */
export const ZIP_LEVEL = 6;
/** A fixed local time: fflate writes DOS timestamps from local date parts, so this is zone-proof. */
const ZIP_MTIME = new Date(1980, 0, 1, 0, 0, 0);
/** Regular file, rw-r--r--, in the zip's external attributes (Unix mode in the high 16 bits). */
const ZIP_FILE_ATTRS = (0o100644 << 16) >>> 0;
const ZIP_UNIX = 3;

const CALLBACK_NAMESPACE = "queue-patterns-callback";
/** The generated entry's name in esbuild's output and metafile; it exists only in memory. */
const ENTRY_SOURCE_FILE = "entry.js";

const CAPTURE_HELP =
  "A callback may capture plain values, Outputs of non-secret values, functions and modules loaded with import/require " +
  "(SDKs and other pure-JavaScript packages); it may not capture `this`, native add-ons, secrets or @pulumi/* modules.";

/**
 * Serializes every callback, then bundles the entry and zips the result, or takes the archive built
 * before from the same inputs (bundle-cache.ts).
 */
export async function buildArtifact<C extends Callbacks>(spec: ArtifactSpec<C>): Promise<Artifact> {
  const serialized = await serializeCallbacks(spec);
  const key = cacheKey([
    builderVersion(),
    entrySource(spec, serialized),
    serialized,
    spec.nodeMajor,
    spec.external,
    spec.host,
    spec.extraFiles,
    process.cwd(),
    moduleRoots(),
  ]);
  return cachedArtifact(key, bundleCacheDir(), async () => {
    const { bundle, inputs } = await bundleEntry(spec, serialized);
    const files: Record<string, string> = { ...spec.extraFiles, [BUNDLE_FILE]: bundle };
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
 * What decides the bytes besides the spec and the bundled files: the esbuild release and this
 * module's own code (its build settings, plugins and zip settings).
 */
function builderVersion(): [string, string | undefined] {
  const manifest = require.resolve("esbuild/package.json");
  esbuildVersion ??= (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
  return [esbuildVersion, fileDigest(__filename)];
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

function entrySource(spec: ArtifactSpec, serialized: Record<string, string>): string {
  const { module, factory } = spec.entry.runtime;
  const callbacks = Object.keys(serialized)
    .map((name) => `${JSON.stringify(name)}: require(${JSON.stringify(`${CALLBACK_NAMESPACE}:${name}`)}).handler`)
    .join(",\n  ");
  return [
    `const runtime = require(${JSON.stringify(module)});`,
    `const callbacks = {\n  ${callbacks}\n};`,
    `Object.assign(module.exports, runtime[${JSON.stringify(factory)}](callbacks, ${JSON.stringify(spec.entry.options ?? {})}));`,
  ].join("\n");
}

/** The folders whose node_modules a captured module may live in: the program's and this package's. */
function moduleRoots(): string[] {
  packageRoot ??= findPackageRoot(__dirname);
  return [...new Set([process.cwd(), packageRoot])].map((dir) => path.join(dir, "node_modules"));
}
let packageRoot: string | undefined;

/** The bundle, and the absolute paths of the files it was built from (with their packages' manifests). */
async function bundleEntry(
  spec: ArtifactSpec,
  serialized: Record<string, string>,
): Promise<{ bundle: string; inputs: string[] }> {
  const esbuild = require("esbuild") as typeof import("esbuild");
  const nodePaths = moduleRoots();
  const external = [...(spec.external ?? []), ...(spec.host === "azure-functions" ? AZURE_WORKER_MODULES : [])];
  const contents = entrySource(spec, serialized);
  let result: esbuild.BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build({
      stdin: {
        contents,
        resolveDir: process.cwd(),
        sourcefile: ENTRY_SOURCE_FILE,
        loader: "js",
      },
      // Bundle keys are paths relative to this folder: the program's folder keeps them machine-independent.
      absWorkingDir: process.cwd(),
      bundle: true,
      platform: "node",
      format: "cjs",
      target: `node${spec.nodeMajor}`,
      minify: true,
      legalComments: "none",
      banner: { js: nodeMajorBanner(spec.nodeMajor) },
      // `import()` of a module left outside the bundle becomes `require`: in a CommonJS file the
      // ES module loader it would start costs the cold path dearly (for `node:http` its facade reads
      // every lazy export, which loads undici), and the SDK's CommonJS builds `require` the same.
      supported: { "dynamic-import": false },
      charset: "utf8",
      external,
      nodePaths,
      metafile: true,
      write: false,
      logLevel: "silent",
      plugins: [
        callbackModules(serialized),
        deepPackagePaths(nodePaths, external),
        awsSdkModuleBuilds(nodePaths, external),
      ],
    });
  } catch (error) {
    throw new ClosurePackagingError(`${spec.owner}: bundling failed: ${bundleErrorText(error)}\n${CAPTURE_HELP}`);
  }
  rejectUnbundleableInputs(spec.owner, Object.keys(result.metafile.inputs));
  rejectNativeAddonLoaders(spec.owner, result.metafile);
  return { bundle: result.outputFiles[0].text, inputs: filesRead(result.metafile) };
}

/**
 * The files on disk a bundle was built from, absolute: esbuild's inputs (paths relative to the
 * working folder; the entry and the callbacks are virtual) and the package.json of each package
 * they belong to, whose fields decided how they were resolved.
 */
function filesRead(metafile: esbuild.Metafile): string[] {
  const files = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    if (input === ENTRY_SOURCE_FILE || input.startsWith(`${CALLBACK_NAMESPACE}:`)) continue;
    const file = path.resolve(process.cwd(), input);
    files.add(file);
    const packageDir = file.match(/^(.*[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/)?.[1];
    if (packageDir !== undefined) files.add(path.join(packageDir, "package.json"));
  }
  return [...files].sort();
}

/**
 * Packages that find a native add-on's binary on disk at run time (`node-gyp-build(__dirname)`,
 * `bindings("addon.node")`, node-pre-gyp's `find`): esbuild bundles the loader but not the binary, so
 * the add-on fails at cold start ("No native build was found") instead of at build.
 */
const NATIVE_ADDON_LOADERS = ["node-gyp-build", "bindings", "prebuild-install", "node-pre-gyp", "@mapbox/node-pre-gyp"];

/** The package a bundle input belongs to: `node_modules/@scope/name/...` -> `@scope/name`. */
function packageOf(input: string): string | undefined {
  return input.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/[^]*$/)?.[1];
}

function rejectNativeAddonLoaders(owner: string, metafile: esbuild.Metafile): void {
  const isLoader = (input: string) => NATIVE_ADDON_LOADERS.includes(packageOf(input) ?? "");
  const loaders = Object.keys(metafile.inputs).filter(isLoader);
  if (loaders.length === 0) return;
  const loaderNames = [...new Set(loaders.map((input) => packageOf(input)))];
  // Who loads through them: the packages (or files) that import a loader, other than the loaders themselves.
  const users = Object.entries(metafile.inputs)
    .filter(([input, { imports }]) => !isLoader(input) && imports.some((imported) => isLoader(imported.path)))
    .map(([input]) => packageOf(input) ?? input);
  throw new ClosurePackagingError(
    `${owner}: a callback loads the native add-on ${[...new Set(users)].join(", ") || "(unknown)"} through ` +
      `${loaderNames.join(", ")}, which finds the add-on's binary on disk at run time; a single-file bundle does not ` +
      'carry it, so the function would fail at cold start with "No native build was found". Use a pure-JavaScript ' +
      "package instead (or the package's JavaScript fallback, if it has one, by importing that directly).",
  );
}

function rejectUnbundleableInputs(owner: string, inputs: string[]): void {
  const native = inputs.filter((input) => input.endsWith(".node"));
  if (native.length > 0) {
    throw new ClosurePackagingError(
      `${owner}: a callback captures a native add-on (${native.join(", ")}), which cannot run from a single-file bundle. ` +
        "Use a pure-JavaScript package instead.",
    );
  }
  const pulumiModules = inputs.filter((input) => /(^|\/)node_modules\/@pulumi\//.test(input));
  if (pulumiModules.length > 0) {
    throw new ClosurePackagingError(
      `${owner}: a callback captures @pulumi/* (${pulumiModules[0]}), which only works inside \`pulumi up\`. ` +
        "Capture the plain values or Outputs you need instead of the module.",
    );
  }
}

/** Serves each serialized callback as a virtual module `queue-patterns-callback:<argument>`. */
function callbackModules(serialized: Record<string, string>): esbuild.Plugin {
  return {
    name: "queue-patterns-callbacks",
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${CALLBACK_NAMESPACE}:`) }, (args) => ({
        path: args.path.slice(CALLBACK_NAMESPACE.length + 1),
        namespace: CALLBACK_NAMESPACE,
      }));
      build.onLoad({ filter: /.*/, namespace: CALLBACK_NAMESPACE }, (args) => ({
        contents: serialized[args.path],
        resolveDir: process.cwd(),
        loader: "js",
      }));
    },
  };
}

/**
 * The serializer names captured packages by their file (`@aws-sdk/client-sqs/dist-cjs/index.js`),
 * which a package's `exports` map may not list. Resolve such paths on disk; when the package is
 * external, require it by its bare name if the file is its main module, which every `exports` map allows.
 */
function deepPackagePaths(nodePaths: string[], external: string[]): esbuild.Plugin {
  const deepPath = /^((?:@[^/]+\/)?[^/.][^/]*)\/(.+)$/;
  return {
    name: "queue-patterns-deep-package-paths",
    setup(build) {
      build.onResolve({ filter: deepPath }, (args) => {
        if (args.namespace !== CALLBACK_NAMESPACE) return undefined;
        const [, packageName, subpath] = args.path.match(deepPath) as RegExpMatchArray;
        for (const root of nodePaths) {
          const candidate = path.join(root, args.path);
          if (!fs.existsSync(candidate) || !fs.statSync(candidate).isFile()) continue;
          const isMain = path.normalize(readPackageMain(path.join(root, packageName))) === path.normalize(subpath);
          if (isExternal(packageName, external)) return { path: isMain ? packageName : args.path, external: true };
          // Through its bare name the package resolves like every other import of it: one copy, same build.
          return isMain
            ? build.resolve(packageName, { kind: args.kind, resolveDir: args.resolveDir })
            : { path: candidate };
        }
        return undefined;
      });
    },
  };
}

/** AWS SDK v3 scopes whose packages ship an ES module build (`module`) meant for bundlers. */
const AWS_SDK_SCOPES = /^@(aws-sdk|smithy|aws-crypto)\/[^/]+$/;

/**
 * Bundles the AWS SDK from its ES module builds: they are marked side-effect free, so esbuild drops
 * the commands and serializers a function never uses (CommonJS builds cannot be tree-shaken). Only
 * these scopes: preferring `module` for arbitrary packages can change what `require` returns.
 */
function awsSdkModuleBuilds(nodePaths: string[], external: string[]): esbuild.Plugin {
  return {
    name: "queue-patterns-aws-sdk-module-builds",
    setup(build) {
      build.onResolve({ filter: AWS_SDK_SCOPES }, (args) => {
        if (isExternal(args.path, external)) return undefined;
        for (const root of [path.join(args.resolveDir, "node_modules"), ...nodePaths]) {
          const manifestPath = path.join(root, args.path, "package.json");
          if (!fs.existsSync(manifestPath)) continue;
          const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { module?: string; exports?: unknown };
          if (!manifest.module || manifest.exports) return undefined;
          return { path: path.join(root, args.path, manifest.module) };
        }
        return undefined;
      });
    },
  };
}

/** Whether esbuild's `external` patterns (exact names or `prefix/*`) cover a package. */
function isExternal(packageName: string, external: string[]): boolean {
  return external.some((pattern) =>
    pattern.endsWith("/*") ? packageName.startsWith(pattern.slice(0, -1)) : packageName === pattern,
  );
}

function readPackageMain(packageDir: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")) as { main?: string };
  return manifest.main ?? "index.js";
}

function findPackageRoot(from: string): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
  return dir;
}

function bundleErrorText(error: unknown): string {
  const errors = (error as { errors?: esbuild.Message[] }).errors;
  if (!errors?.length) return messageOf(error);
  return errors.map((e) => (e.location ? `${e.text} (${e.location.file}:${e.location.line})` : e.text)).join("; ");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
