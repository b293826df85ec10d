/**
 * esbuild step of an artifact: the entry that starts the runtime with the serialized callbacks, bundled
 * into one minified CommonJS file, and the files on disk it was built from (for the bundle cache).
 * esbuild is loaded only here, when something is bundled.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type * as esbuild from "esbuild";
import type { ArtifactSpec } from "./artifact";

/** A callback or its bundle could not be packaged; the message names the component and argument. */
export class ClosurePackagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClosurePackagingError";
  }
}

const CALLBACK_NAMESPACE = "queue-patterns-callback";
/** The generated entry's name in esbuild's output and metafile; it exists only in memory. */
const ENTRY_SOURCE_FILE = "entry.js";

/** What a callback may capture, for packaging errors. */
export const CAPTURE_HELP =
  "A callback may capture plain values, Outputs of non-secret values, functions and modules loaded with import/require " +
  "(SDKs and other pure-JavaScript packages); it may not capture `this`, native add-ons, secrets or @pulumi/* modules.";

/** The Functions worker injects this module; bundling a copy would break trigger registration. */
const AZURE_WORKER_MODULES = ["@azure/functions-core"];

/** The generated entry: starts the runtime's factory with the serialized callbacks and the options. */
export function entrySource(spec: ArtifactSpec, serialized: Record<string, string>): string {
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
export function moduleRoots(): string[] {
  packageRoot ??= findPackageRoot(__dirname);
  return [...new Set([process.cwd(), packageRoot])].map((dir) => path.join(dir, "node_modules"));
}
let packageRoot: string | undefined;

/** How the bundle is written: its first line, and with `sourceMap` the file name the map is linked from. */
export interface BundleLayout {
  banner: string;
  mappedFile?: string;
}

/** The bundle, and the absolute paths of the files it was built from (with their packages' manifests). */
export async function bundleEntry(
  spec: ArtifactSpec,
  serialized: Record<string, string>,
  layout: BundleLayout,
): Promise<{ bundle: string; sourceMap?: string; inputs: string[] }> {
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
      banner: { js: layout.banner },
      ...(layout.mappedFile
        ? {
            // Mappings only: stack traces need lines, not the sources' text, which would double the archive.
            sourcemap: "linked" as const,
            sourcesContent: false,
            outfile: path.join(process.cwd(), layout.mappedFile),
          }
        : {}),
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
  const map = result.outputFiles.find((file) => file.path.endsWith(".map"));
  const bundle = result.outputFiles.find((file) => file !== map) as esbuild.OutputFile;
  return { bundle: bundle.text, sourceMap: map?.text, inputs: filesRead(result.metafile) };
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
          const manifest = packageManifest(path.join(root, args.path));
          if (manifest === undefined) continue;
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
  return packageManifest(packageDir)?.main ?? "index.js";
}

interface PackageManifest {
  main?: string;
  module?: string;
  exports?: unknown;
}

/**
 * Package manifests by folder (undefined: none there), read once per process: every bundle of a
 * program resolves the same SDK packages, and files do not change while it runs.
 */
const manifests = new Map<string, PackageManifest | undefined>();

function packageManifest(packageDir: string): PackageManifest | undefined {
  if (!manifests.has(packageDir)) {
    const file = path.join(packageDir, "package.json");
    manifests.set(
      packageDir,
      fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as PackageManifest) : undefined,
    );
  }
  return manifests.get(packageDir);
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

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
