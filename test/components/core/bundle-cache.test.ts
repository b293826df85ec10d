import * as assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, it } from "node:test";
import { unzipSync } from "fflate";
import { bundleCacheDir, readEntry } from "../../../components/core/bundle-cache";

const probe = path.join(__dirname, "..", "..", "fixtures", "cache-probe.js");

interface ProbeResult {
  sha256: string;
  zipBase64: string;
  files: Record<string, string>;
  esbuildLoaded: boolean;
}

/**
 * A program folder (package.json, node_modules) with a runtime entry that requires a package of its
 * own, `greeter`, whose file is the input the invalidation tests change.
 */
function programFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-cache-test-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "cache-test", private: true }));
  const greeter = path.join(dir, "node_modules", "greeter");
  fs.mkdirSync(greeter, { recursive: true });
  fs.writeFileSync(path.join(greeter, "package.json"), JSON.stringify({ name: "greeter", version: "1.0.0" }));
  fs.writeFileSync(path.join(greeter, "index.js"), 'exports.suffix = "!!";\n');
  fs.writeFileSync(
    path.join(dir, "runtime.js"),
    'const { suffix } = require("greeter");\n' +
      "exports.createHandler = (callbacks, options) => ({\n" +
      "  handler: async () => options.greeting + (await callbacks.handler()) + suffix,\n" +
      "});\n",
  );
  return dir;
}

function probeOptions(dir: string, env: Record<string, string>) {
  const inherited = { ...process.env };
  delete inherited.QUEUE_PATTERNS_CACHE;
  delete inherited.QUEUE_PATTERNS_CACHE_DIR;
  return { cwd: dir, encoding: "utf8" as const, env: { ...inherited, ...env } };
}

/** Builds the folder's artifact in a fresh process. */
function build(dir: string, env: Record<string, string> = {}, greeting = "hello"): ProbeResult {
  return JSON.parse(
    execFileSync(process.execPath, [probe, path.join(dir, "runtime.js"), greeting], probeOptions(dir, env)),
  ) as ProbeResult;
}

async function buildAsync(dir: string, env: Record<string, string>): Promise<ProbeResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [probe, path.join(dir, "runtime.js"), "hello"],
    probeOptions(dir, env),
  );
  return JSON.parse(stdout) as ProbeResult;
}

function entries(cacheDir: string): string[] {
  return fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : [];
}

describe("the bundle cache", () => {
  let dir: string;
  let cacheDir: string;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = programFolder();
    cacheDir = path.join(dir, "cache");
    env = { QUEUE_PATTERNS_CACHE_DIR: cacheDir };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("builds on a miss and stores the entry; a second program gets the same archive without loading esbuild", () => {
    const first = build(dir, env);
    assert.equal(first.esbuildLoaded, true);
    assert.equal(entries(cacheDir).length, 1);
    const second = build(dir, env);
    assert.equal(second.esbuildLoaded, false);
    assert.equal(second.zipBase64, first.zipBase64);
    assert.equal(second.sha256, first.sha256);
  });

  it("gives byte-identical archives from the cache and from a fresh build with the cache off", () => {
    build(dir, env);
    const cached = build(dir, env);
    const fresh = build(dir, { QUEUE_PATTERNS_CACHE: "off", QUEUE_PATTERNS_CACHE_DIR: cacheDir });
    assert.equal(cached.esbuildLoaded, false);
    assert.equal(fresh.esbuildLoaded, true);
    assert.equal(fresh.zipBase64, cached.zipBase64);
  });

  it("misses when the callback changes", () => {
    build(dir, env);
    const other = build(dir, env, "goodbye");
    assert.equal(other.esbuildLoaded, true);
    assert.equal(entries(cacheDir).length, 2);
  });

  it("rebuilds when a bundled file changes content but keeps its size and mtime, as npm extracts packages", () => {
    const first = build(dir, env);
    const file = path.join(dir, "node_modules", "greeter", "index.js");
    const { atime, mtime } = fs.statSync(file);
    fs.writeFileSync(file, 'exports.suffix = "??";\n');
    fs.utimesSync(file, atime, mtime);
    const second = build(dir, env);
    assert.equal(second.esbuildLoaded, true);
    assert.notEqual(second.sha256, first.sha256);
    const bundle = Buffer.from(unzipSync(Buffer.from(second.zipBase64, "base64"))["index.js"]).toString("utf8");
    assert.match(bundle, /"\?\?"/);
    assert.equal(build(dir, env).esbuildLoaded, false, "the rebuilt entry replaced the stale one");
  });

  it("rebuilds when a package's manifest changes (an upgrade that keeps the files read)", () => {
    build(dir, env);
    fs.writeFileSync(
      path.join(dir, "node_modules", "greeter", "package.json"),
      JSON.stringify({ name: "greeter", version: "1.0.1" }),
    );
    assert.equal(build(dir, env).esbuildLoaded, true);
  });

  it("rebuilds when a bundled file is gone", () => {
    build(dir, env);
    fs.rmSync(path.join(dir, "node_modules", "greeter", "index.js"));
    fs.writeFileSync(path.join(dir, "node_modules", "greeter", "main.js"), 'exports.suffix = "!!";\n');
    fs.writeFileSync(
      path.join(dir, "node_modules", "greeter", "package.json"),
      JSON.stringify({ name: "greeter", version: "1.0.0", main: "main.js" }),
    );
    assert.equal(build(dir, env).esbuildLoaded, true);
  });

  it("takes a torn or corrupt entry for a miss and replaces it", () => {
    const first = build(dir, env);
    const [name] = entries(cacheDir);
    const file = path.join(cacheDir, name);
    const whole = fs.readFileSync(file, "utf8");

    fs.writeFileSync(file, whole.slice(0, whole.length / 2));
    const afterTorn = build(dir, env);
    assert.equal(afterTorn.esbuildLoaded, true);
    assert.equal(afterTorn.sha256, first.sha256);

    // Parses, but the zip does not match its hash.
    const entry = JSON.parse(whole) as { artifact: { zipBase64: string } };
    entry.artifact.zipBase64 = Buffer.from("not the archive").toString("base64");
    fs.writeFileSync(file, JSON.stringify(entry));
    assert.equal(readEntry(file, name.replace(/\.json$/, "")), undefined);
    const afterCorrupt = build(dir, env);
    assert.equal(afterCorrupt.esbuildLoaded, true);
    assert.equal(afterCorrupt.zipBase64, first.zipBase64);
    assert.equal(fs.readFileSync(file, "utf8"), whole, "the entry is whole again");
  });

  it("lets two programs build the same artifact at once: both get the same archive, and the entry is whole", async () => {
    const [a, b] = await Promise.all([buildAsync(dir, env), buildAsync(dir, env)]);
    assert.equal(a.zipBase64, b.zipBase64);
    assert.deepEqual(entries(cacheDir).length, 1, `no temporary file left: ${entries(cacheDir).join(", ")}`);
    const third = build(dir, env);
    assert.equal(third.esbuildLoaded, false);
    assert.equal(third.zipBase64, a.zipBase64);
  });

  it("writes nothing when QUEUE_PATTERNS_CACHE is off", () => {
    build(dir, { ...env, QUEUE_PATTERNS_CACHE: "off" });
    assert.deepEqual(entries(cacheDir), []);
  });
});

describe("where the bundle cache lives", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-cache-dir-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("uses QUEUE_PATTERNS_CACHE_DIR, relative to the working folder", () => {
    assert.equal(bundleCacheDir({ QUEUE_PATTERNS_CACHE_DIR: "cache" }, dir), path.join(dir, "cache"));
  });

  it("defaults to node_modules/.cache/queue-patterns of the program's package, found from the working folder up", () => {
    fs.writeFileSync(path.join(dir, "package.json"), "{}");
    fs.mkdirSync(path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "src"));
    assert.equal(bundleCacheDir({}, path.join(dir, "src")), path.join(dir, "node_modules", ".cache", "queue-patterns"));
  });

  it("falls back to the OS temp folder when the program's package has no node_modules", () => {
    fs.writeFileSync(path.join(dir, "package.json"), "{}");
    assert.equal(bundleCacheDir({}, dir), path.join(os.tmpdir(), "queue-patterns-cache"));
  });

  it("is off when QUEUE_PATTERNS_CACHE is off, whatever the folder", () => {
    assert.equal(bundleCacheDir({ QUEUE_PATTERNS_CACHE: "off", QUEUE_PATTERNS_CACHE_DIR: "cache" }, dir), undefined);
  });
});
