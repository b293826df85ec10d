/**
 * The package as a user installs it: `npm pack` of an unbuilt copy of this checkout (its `prepare`
 * script builds the library, as for `npm install <git url>`), `npm install` of the tarball into a new
 * folder with its own package.json (no link to this checkout anywhere), and there:
 * - a stack using all five components, and examples/listings, previewed through that folder's own
 *   `@pulumi/pulumi/cmd/run` against the loopback engine (cli/language-host.ts);
 * - FlexDeployment's registered provider loaded by that folder's Pulumi dynamic-provider plugin;
 * - the stack type-checked with Pulumi's TypeScript template tsconfig plus the settings the README
 *   names, under `moduleResolution` nodenext (today's template) and node (the template before 2026);
 * - a user's unit test with the plain mocks of Pulumi's testing guide;
 * - a user's test of their own FifoIngester, ScheduledNotifier and FanOutIngest callbacks with
 *   queue-patterns/testing (callbacks.test.ts), on the emulators installed beside the package.
 * Packing and installing happen once for the file.
 */
import * as assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { type ProgramRun, runProgram, startDynamicProviderHost } from "../cli/language-host";

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, "..", "..");
const fixture = path.join(repoRoot, "test", "fixtures", "installed-package");
const listingsExample = path.join(repoRoot, "examples", "listings");

/**
 * This process's environment without what the enclosing `npm test` and test runner set for their
 * children (npm's script variables; NODE_TEST_CONTEXT, which would turn a nested `node --test`'s
 * report into the runner's internal format).
 */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => (!key.startsWith("npm_") || key === "npm_config_cache") && key !== "NODE_TEST_CONTEXT",
    ),
  );
}

/** `npm <args>` in `cwd`; the packages come from npm's cache when it holds them. */
function npm(cwd: string, args: string[]): Promise<{ stdout: string }> {
  return run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    env: userEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * A copy of this checkout as `npm install <git url>` clones it: the files git tracks (and new ones it
 * does not ignore), so no dist/; node_modules links to this checkout's, as npm installs the
 * dependencies and dev dependencies of a git dependency before its `prepare` script runs.
 */
function checkoutCopy(): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "qp-checkout-"));
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  for (const file of files.split("\0").filter((name) => name && fs.existsSync(path.join(repoRoot, name)))) {
    fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, file), path.join(copy, file));
  }
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(copy, "node_modules"), "dir");
  return copy;
}

/**
 * A new folder holding the tarball `npm pack` makes of an unbuilt checkout, installed as a dependency
 * with the example's other dependencies, and two programs beside it: `stack/` (the fixture) and
 * `listings/` (examples/listings).
 */
async function installTarball(): Promise<string> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "qp-installed-"));
  const checkout = checkoutCopy();
  try {
    const { stdout } = await npm(checkout, ["pack", "--pack-destination", folder]);
    const tarball = path.join(folder, stdout.trim().split("\n").pop()!);
    const example = JSON.parse(fs.readFileSync(path.join(listingsExample, "package.json"), "utf8"));
    const { devDependencies: ours } = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    const manifest = {
      name: "installed-package-consumer",
      private: true,
      dependencies: { ...example.dependencies, "queue-patterns": `file:${tarball}` },
      // The emulators queue-patterns/testing runs on, as docs/testing.md tells users to install them.
      devDependencies: { ...example.devDependencies, fauxqs: ours.fauxqs, azurite: ours.azurite },
    };
    fs.writeFileSync(path.join(folder, "package.json"), JSON.stringify(manifest, null, 2));
  } finally {
    fs.rmSync(checkout, { recursive: true, force: true });
  }
  await npm(folder, ["install", "--prefer-offline"]);
  fs.cpSync(fixture, path.join(folder, "stack"), { recursive: true });
  fs.mkdirSync(path.join(folder, "listings"));
  for (const file of ["index.ts", "tsconfig.json", "Pulumi.yaml"]) {
    fs.copyFileSync(path.join(listingsExample, file), path.join(folder, "listings", file));
  }
  return folder;
}

let installation: Promise<string> | undefined;

/** The folder of `installTarball`, installed once for the whole file and removed after it. */
function installedFolder(): Promise<string> {
  return (installation ??= installTarball());
}

after(async () => {
  if (installation) fs.rmSync(await installation, { recursive: true, force: true });
});

/** Every file below `dir`, as paths relative to it. */
function filesBelow(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => fs.statSync(path.join(dir, file)).isFile());
}

function failureText(result: ProgramRun): string {
  return [...result.logs.filter((line) => line.severity === "error").map((line) => line.message), result.stderr].join(
    "\n",
  );
}

const COMPONENTS = ["FanOutIngest", "FifoIngester", "PersistentEniAsg", "ScheduledNotifier", "DedupForwardingQueue"];

/** A command's end: exit code and output; never rejects. */
interface Finished {
  code: number;
  output: string;
}

function finished(command: string, args: string[], cwd: string): Promise<Finished> {
  return run(command, args, { cwd, env: userEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error) => ({ code: typeof error.code === "number" ? error.code : 1, output: `${error.stdout}${error.stderr}` }),
  );
}

const TSCONFIGS = ["tsconfig.json", "tsconfig.commonjs.json"];

describe("the package installed from its npm pack tarball into a new folder", () => {
  let folder: string;
  let stack: ProgramRun;
  let listings: ProgramRun;
  const typeChecks = new Map<string, Finished>();
  const unitTests = new Map<string, Finished>();

  // Everything after the install runs at once: the slow parts are CPU-bound processes.
  before(async () => {
    folder = await installedFolder();
    const stackDir = path.join(folder, "stack");
    const tsc = path.join(folder, "node_modules", "typescript", "bin", "tsc");
    const config = { "aws:region": "us-east-1", "azure-native:location": "westeurope" };
    await Promise.all([
      runProgram({
        projectDir: stackDir,
        stack: "dev",
        config: { ...config, "installed-package:apiToken": "a-token" },
        secretKeys: ["installed-package:apiToken"],
        preview: true,
      }).then((result) => (stack = result)),
      runProgram({ projectDir: path.join(folder, "listings"), stack: "dev", config, preview: true }).then(
        (result) => (listings = result),
      ),
      ...TSCONFIGS.map((tsconfig) =>
        finished(process.execPath, [tsc, "-p", tsconfig, "--noEmit", "--pretty", "false"], stackDir).then((result) =>
          typeChecks.set(tsconfig, result),
        ),
      ),
      // One process per component, so an error one throws late is never counted against another.
      ...COMPONENTS.map((component) =>
        finished(
          process.execPath,
          ["--test", `--test-name-pattern=^${component}$`, "--test-reporter=tap", "components.test.js"],
          stackDir,
        ).then((result) => unitTests.set(component, result)),
      ),
    ]);
  });

  it("npm pack of a checkout without dist/ builds the library (prepare) and ships it, installed as files", () => {
    const installed = path.join(folder, "node_modules", "queue-patterns");
    assert.ok(!fs.lstatSync(installed).isSymbolicLink(), "unpacked from the tarball, not a link to a checkout");
    const files = filesBelow(installed);
    for (const file of ["dist/components/index.js", "dist/components/azure/flex-provider.js", "LICENSE", "README.md"]) {
      assert.ok(files.includes(file), `${file} is in the package`);
    }
    assert.deepEqual(
      files.filter((file) => /^(test|bench|scripts|examples)\/|^dist\/(test|bench|scripts)\//.test(file)),
      [],
      "the package holds the library only",
    );
  });

  it("ships the TypeScript sources its source maps point at", () => {
    const installed = path.join(folder, "node_modules", "queue-patterns");
    const maps = filesBelow(installed).filter((file) => file.endsWith(".js.map"));
    assert.ok(maps.length > 0);
    for (const map of maps) {
      const { sources } = JSON.parse(fs.readFileSync(path.join(installed, map), "utf8")) as { sources: string[] };
      for (const source of sources) {
        assert.ok(fs.existsSync(path.resolve(installed, path.dirname(map), source)), `${map} -> ${source}`);
      }
    }
  });

  it("has no documentation link to a file outside the package", () => {
    const installed = path.join(folder, "node_modules", "queue-patterns");
    for (const page of filesBelow(installed).filter((file) => file.endsWith(".md"))) {
      const text = fs.readFileSync(path.join(installed, page), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        assert.ok(fs.existsSync(path.resolve(installed, path.dirname(page), target)), `${page} links to ${target}`);
      }
    }
  });

  it("previews a stack using all five components through Pulumi's cmd/run: exit 0, every component registered", () => {
    assert.equal(stack.exitCode, 0, `the program failed:\n${failureText(stack)}`);
    const types = stack.registrations.map((r) => r.type);
    for (const component of COMPONENTS) {
      assert.ok(
        types.some((type) => type.startsWith("queue-patterns:") && type.endsWith(`:${component}`)),
        `${component} is registered`,
      );
    }
  });

  it("FlexDeployment's serialized provider loads in that folder's dynamic-provider plugin and diffs", async () => {
    const deployment = stack.registrations.find(
      (r) => r.type === "pulumi-nodejs:dynamic/queue-patterns:FlexDeployment",
    );
    assert.ok(deployment, `no FlexDeployment registered:\n${failureText(stack)}`);
    assert.match(deployment.inputs.__provider, /queue-patterns\/flex-deployment/, "named by its package export");
    const host = await startDynamicProviderHost(path.join(folder, "stack"));
    try {
      // A preview leaves the computed inputs unknown (undefined here), which a protobuf Struct cannot carry.
      const known = JSON.parse(JSON.stringify(deployment.inputs));
      const olds = { ...known, packageSha256: "1".repeat(64), deploymentId: "d1", statusText: "success" };
      assert.equal(await host.diff("id", olds, { ...olds, packageSha256: "0".repeat(64) }), "some");
    } finally {
      await host.stop();
    }
  });

  it("previews examples/listings the same way against the installed tarball", () => {
    assert.equal(listings.exitCode, 0, `the program failed:\n${failureText(listings)}`);
    assert.ok(listings.registrations.some((r) => r.type === "queue-patterns:aws:FifoIngester"));
  });

  for (const tsconfig of TSCONFIGS) {
    it(`type-checks the stack with Pulumi's template tsconfig and the README's settings (${tsconfig})`, () => {
      const { code, output } = typeChecks.get(tsconfig)!;
      assert.equal(code, 0, `tsc -p ${tsconfig}:\n${output}`);
    });
  }

  for (const component of COMPONENTS) {
    it(`a user's unit test constructs ${component} under the plain mocks of Pulumi's testing guide`, () => {
      const { code, output } = unitTests.get(component)!;
      assert.match(output, new RegExp(`^ok \\d+ - ${component}$`, "m"), `the test did not pass:\n${output}`);
      assert.equal(code, 0, `the test process failed:\n${output}`);
    });
  }
});

describe("npx queue-patterns plan, in a folder that installed the package from its tarball", () => {
  let folder: string;
  let plan: { code: number; stdout: string; stderr: string };
  let usage: { code: number; stdout: string; stderr: string };
  let dev: { code: number; stdout: string; stderr: string };

  /** `npx queue-patterns <args>` in the folder, through the bin the installed package declares. */
  const npx = (args: string[]) =>
    run("npx", ["--no", "queue-patterns", ...args], { cwd: folder, env: userEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error) => ({
        code: typeof error.code === "number" ? error.code : 1,
        stdout: `${error.stdout}`,
        stderr: `${error.stderr}`,
      }),
    );

  before(async () => {
    folder = await installedFolder();
    // The stack file a user of the example keeps beside Pulumi.yaml.
    fs.writeFileSync(path.join(folder, "listings", "Pulumi.dev.yaml"), "config:\n  aws:region: eu-west-1\n");
    [plan, usage] = await Promise.all([npx(["plan", "listings", "--details"]), npx(["plan", "--stak", "dev"])]);
    dev = await npx(["dev", "listings"]);
  });

  it("prints the listings example's plan as pulumi preview prints one, with its Pulumi.dev.yaml config", () => {
    assert.equal(plan.code, 0, `queue-patterns plan failed:\n${plan.stderr}\n${plan.stdout}`);
    assert.match(
      plan.stdout,
      /^Previewing update \(dev\), offline:\n {4}listings in .*config from Pulumi\.yaml and Pulumi\.dev\.yaml/,
    );
    const rows = plan.stdout.split("\n").filter((line) => line.startsWith(" +   "));
    assert.match(rows[0], /^ \+ {3}pulumi:pulumi:Stack +listings-dev +create$/);
    assert.match(rows[1], /^ \+ {3}└─ queue-patterns:aws:FifoIngester +listings +create$/);
    for (const type of ["aws:sns:Topic", "aws:sqs:Queue", "aws:sqs:QueuePolicy", "aws:lambda:Function"]) {
      assert.ok(
        rows.some((row) => row.includes(` ${type} `)),
        `no ${type} row in:\n${plan.stdout}`,
      );
    }
    assert.match(plan.stdout, /policy *: \(json\) \{/, "the policies are shown");
    assert.match(plan.stdout, new RegExp(`Resources:\\n {4}\\+ ${rows.length} to create\\n$`));
  });

  it("says what it is doing on stderr while the program compiles and runs, keeping stdout for the plan", () => {
    assert.match(plan.stderr, /\] compiling the program with TypeScript \d/);
    assert.match(plan.stderr, /\] the program finished: \d+ resources/);
    assert.doesNotMatch(plan.stdout, /^\[ *\d+\.\ds\]/m);
  });

  it("npx queue-patterns dev runs the listings example: the plan, then its FifoIngester end to end on fauxqs", () => {
    assert.equal(dev.code, 0, `queue-patterns dev failed:\n${dev.stderr}\n${dev.stdout}`);
    assert.match(dev.stdout, /Resources:\n {4}\+ \d+ to create\n/);
    assert.match(
      dev.stdout,
      /Local runs of stack "dev" \(listings\/index\.ts\), with sample events:\n {2}✓ FifoIngester listings \(/,
    );
    // The handler calls the default search index URL, which this machine cannot reach: every sample
    // record is retried, then dead-lettered with the handler's error.
    assert.match(dev.stdout, /deadLetters 2/);
    assert.match(dev.stdout, /dead-lettered: .*(fetch failed|search index answered)/);
    assert.match(dev.stderr, /compiling index\.ts with ts-node/);
  });

  it("answers an unknown option with a usage error, exit code 2", () => {
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^queue-patterns: unknown option "--stak"\n\nUsage: queue-patterns plan \[programDir\]/);
  });
});

const TESTED_WITH_TESTING = ["FifoIngester", "ScheduledNotifier", "FanOutIngest"];

describe("a stack in a new folder tests its own callbacks with queue-patterns/testing from the installed tarball", () => {
  let compiled: Finished;
  const runs = new Map<string, Finished & { ms: number }>();
  let listings: Finished & { ms: number };

  // One component at a time, so each one's time is its own on this machine's cores.
  before(async () => {
    const stackDir = path.join(await installedFolder(), "stack");
    const tsc = path.join(stackDir, "..", "node_modules", "typescript", "bin", "tsc");
    compiled = await finished(process.execPath, [tsc, "-p", "tsconfig.callbacks.json", "--pretty", "false"], stackDir);
    if (compiled.code !== 0) return;
    for (const component of TESTED_WITH_TESTING) {
      const started = Date.now();
      const result = await finished(
        process.execPath,
        ["--test", `--test-name-pattern=^${component}$`, "--test-reporter=tap", "callbacks-bin/callbacks.test.js"],
        stackDir,
      );
      runs.set(component, { ...result, ms: Date.now() - started });
      console.log(`# queue-patterns/testing, ${component}: ${runs.get(component)!.ms} ms (node --test, one process)`);
    }
    // examples/listings, TypeScript, as `queue-patterns dev` runs a program: no config, so its handler
    // calls the default search index URL, which this machine cannot reach.
    const started = Date.now();
    const script =
      'require("queue-patterns/testing").exerciseProgram(".", { onProgress: (line) => console.log(`progress: ${line}`) })' +
      ".then((result) => console.log(`RESULT ${JSON.stringify(result)}`), (error) => { console.error(error); process.exit(1); });";
    const result = await finished(process.execPath, ["-e", script], path.join(stackDir, "..", "listings"));
    listings = { ...result, ms: Date.now() - started };
    console.log(`# queue-patterns/testing, exerciseProgram of examples/listings: ${listings.ms} ms`);
  });

  it("compiles the user's test (callbacks.test.ts) with that folder's tsc, importing queue-patterns/testing", () => {
    assert.equal(compiled.code, 0, `tsc -p tsconfig.callbacks.json:\n${compiled.output}`);
  });

  for (const component of TESTED_WITH_TESTING) {
    it(`runs ${component}'s artifact with the user's callbacks on the emulators, in under a minute`, () => {
      const result = runs.get(component);
      assert.ok(result, "not run: the test did not compile");
      assert.match(
        result.output,
        new RegExp(`^ok \\d+ - ${component}$`, "m"),
        `the test did not pass:\n${result.output}`,
      );
      assert.equal(result.code, 0, `the test process failed:\n${result.output}`);
      assert.ok(result.ms < 60_000, `${component} took ${result.ms} ms`);
    });
  }

  it("exercises examples/listings (TypeScript) with exerciseProgram: its FifoIngester's handler on the sample records", () => {
    assert.ok(listings, "not run: the test did not compile");
    assert.equal(listings.code, 0, listings.output);
    const line = listings.output.split("\n").find((text) => text.startsWith("RESULT "));
    assert.ok(line, listings.output);
    const result = JSON.parse(line.slice("RESULT ".length));
    assert.deepEqual(
      result.components.map((c: { component: string; name: string }) => `${c.component} ${c.name}`),
      ["FifoIngester listings"],
    );
    const [run] = result.components;
    assert.equal(run.published, 2, JSON.stringify(run).slice(0, 2000));
    // The handler ran and threw (the search index is unreachable here): 5 attempts each, then the reason.
    assert.equal(run.deadLetters.length, 2);
    for (const letter of run.deadLetters) assert.match(letter.reason, /fetch failed|search index answered/);
    assert.match(listings.output, /progress: compiling index.ts with ts-node/);
    assert.ok(listings.ms < 60_000, `took ${listings.ms} ms`);
  });
});
