import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";

const repoRoot = path.resolve(__dirname, "..", "..");

describe("the package as another stack imports it", () => {
  // A consumer folder whose node_modules/queue-patterns links here, as a `file:` dependency does.
  const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "qp-consumer-"));
  fs.mkdirSync(path.join(consumer, "node_modules"));
  fs.symlinkSync(repoRoot, path.join(consumer, "node_modules", "queue-patterns"), "dir");
  after(() => fs.rmSync(consumer, { recursive: true, force: true }));

  const resolveFromConsumer = (request: string) => require.resolve(request, { paths: [consumer] });

  it("resolves `queue-patterns` to the compiled public API through package.json exports", () => {
    assert.equal(
      fs.realpathSync(resolveFromConsumer("queue-patterns")),
      path.join(repoRoot, "dist", "components", "index.js"),
    );
  });

  it("exports the building blocks by name", () => {
    const api = require(resolveFromConsumer("queue-patterns"));
    for (const name of ["LambdaFunction", "FunctionApp", "FlexDeployment", "buildArtifact", "InvalidArgumentsError"]) {
      assert.equal(typeof api[name], "function", name);
    }
  });

  it("exposes FlexDeployment's module as queue-patterns/flex-deployment, the name Pulumi's closure serializer gives its provider", () => {
    assert.equal(
      fs.realpathSync(resolveFromConsumer("queue-patterns/flex-deployment")),
      path.join(repoRoot, "dist", "components", "azure", "flex-provider.js"),
    );
    // What the serializer asks when the dynamic provider it packages uses its module's exports:
    // which export of the installed package is that file (@pulumi/pulumi/runtime/closure/package.js).
    const { getModuleFromPath } = require("@pulumi/pulumi/runtime/closure/package");
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    assert.equal(
      getModuleFromPath("queue-patterns/dist/components/azure/flex-provider.js", manifest),
      "queue-patterns/flex-deployment",
    );
  });

  it("maps every typed subpath export the same way in typesVersions, for moduleResolution node", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    const typed = Object.entries(manifest.exports as Record<string, { types?: string }>)
      .filter(([subpath, target]) => subpath !== "." && typeof target === "object" && target.types)
      .map(([subpath, target]) => [subpath.slice(2), [target.types!.slice(2)]]);
    assert.deepEqual(manifest.typesVersions, { "*": Object.fromEntries(typed) });
  });

  it("exposes only the runtime helpers users call, not the runtimes' internals", () => {
    const exported = (subpath: string) => fs.realpathSync(resolveFromConsumer(`queue-patterns/${subpath}`));
    assert.equal(exported("fifo-publisher"), path.join(repoRoot, "dist", "runtime", "fifo-ingester", "publisher.js"));
    assert.equal(typeof require(exported("fifo-publisher")).createPublisher, "function");
    assert.equal(typeof require(exported("processing-scheduler")).ProcessingScheduler, "function");
    assert.equal(typeof require(exported("fan-out-runs")).readManifest, "function");
    assert.equal(typeof require(exported("errors")).RateLimitedError, "function");
    for (const internal of [
      "runtime/fifo-ingester/handler",
      "runtime/shared/reject-message",
      "dist/runtime/errors.js",
    ]) {
      assert.throws(() => resolveFromConsumer(`queue-patterns/${internal}`), { code: "ERR_PACKAGE_PATH_NOT_EXPORTED" });
    }
  });

  it("loads none of the runtimes' SDKs when a stack imports the components", () => {
    const probe = `require(${JSON.stringify(resolveFromConsumer("queue-patterns"))});
      const sdks = Object.keys(require.cache).filter((file) => /node_modules[\\/](@aws-sdk|@azure|@aws-lambda-powertools)[\\/]/.test(file));
      console.log(JSON.stringify([...new Set(sdks.map((file) => file.match(/node_modules[\\/](@[^\\/]+[\\/][^\\/]+)/)[1]))]));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ["-e", probe], { encoding: "utf8" }));
    assert.deepEqual(loaded, []);
  });

  it("exports RejectMessage, which handlers throw to dead-letter a message at once, from queue-patterns/errors", () => {
    const { RejectMessage } = require(resolveFromConsumer("queue-patterns/errors"));
    const { rejectionReason } = require("../runtime/shared/reject-message");
    assert.equal(rejectionReason(new RejectMessage("price is not a number")), "price is not a number");
    assert.equal(rejectionReason(new Error("retry me")), undefined);
  });
});

describe("the npm scripts", () => {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };

  for (const name of ["start", "test", "bench"]) {
    it(`\`npm ${name === "bench" ? "run bench" : name}\` runs a file the build produces`, () => {
      const [, entry] = scripts[name].match(/node (dist\/\S+\.js)/) ?? [];
      assert.ok(entry, `${name}: ${scripts[name]}`);
      assert.ok(fs.existsSync(path.join(repoRoot, entry)), `${entry} does not exist after npm run build`);
    });
  }
});
