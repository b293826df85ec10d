import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { unzipSync } from "fflate";
import { installMocks } from "../testing/mocks";

const recorder = installMocks();

const repoRoot = path.resolve(__dirname, "..", "..");
const example = path.join(repoRoot, "examples", "listings");

/**
 * The example stack, set up as its own project would be after `npm install`: its node_modules holds
 * queue-patterns as a link to this checkout (what a `file:` dependency installs) and the packages it
 * names, linked from this checkout's node_modules.
 */
function installExample(): string {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "qp-example-"));
  for (const file of ["index.ts", "tsconfig.json", "package.json"]) {
    fs.copyFileSync(path.join(example, file), path.join(project, file));
  }
  const modules = path.join(project, "node_modules");
  fs.mkdirSync(path.join(modules, "@types"), { recursive: true });
  fs.symlinkSync(repoRoot, path.join(modules, "queue-patterns"), "dir");
  fs.symlinkSync(path.join(repoRoot, "node_modules", "@pulumi"), path.join(modules, "@pulumi"), "dir");
  fs.symlinkSync(path.join(repoRoot, "node_modules", "@aws-sdk"), path.join(modules, "@aws-sdk"), "dir");
  fs.symlinkSync(path.join(repoRoot, "node_modules", "@types", "node"), path.join(modules, "@types", "node"), "dir");
  return project;
}

describe("the examples/listings stack, which imports queue-patterns as a package", () => {
  let project: string;
  before(() => {
    project = installExample();
  });
  after(() => fs.rmSync(project, { recursive: true, force: true }));

  it("type-checks against the package's published types", () => {
    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "-p", path.join(project, "tsconfig.json")], { encoding: "utf8" });
  });

  it("declares a FifoIngester whose Lambda runs the example's handler", async () => {
    const compiled = path.join(project, "out");
    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [
      tsc,
      "-p",
      path.join(project, "tsconfig.json"),
      "--noEmit",
      "false",
      "--outDir",
      compiled,
    ]);
    const outputs = require(path.join(compiled, "index.js"));
    await recorder.settle();
    assert.ok(outputs.topicArn, "the stack exports the topic ARN");
    assert.equal(recorder.only("queue-patterns:aws:FifoIngester").name, "listings");
    const fn = recorder.named("aws:lambda/function:Function", "listings-consumer-function");
    assert.equal(fn.inputs.runtime, "nodejs24.x");
    assert.equal(
      recorder.only("aws:lambda/eventSourceMapping:EventSourceMapping").inputs.scalingConfig.maximumConcurrency,
      20,
    );
    const bundle = Buffer.from(unzipSync(fs.readFileSync(await fn.inputs.code.path))["index.js"]).toString();
    assert.match(bundle, /search index answered/, "the example's own handler is in the artifact");
  });
});
