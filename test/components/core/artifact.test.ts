import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { unzipSync } from "fflate";
import { installMocks, resolve } from "../../../testing/mocks";

const recorder = installMocks();

import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import * as pulumi from "@pulumi/pulumi";
import {
  buildArtifact,
  ClosurePackagingError,
  runtimeEntry,
  zipBytes,
  zipDeterministic,
} from "../../../components/core/artifact";
import type * as plainCallback from "../../../runtime/lambda-function";
import type * as unloaded from "../../fixtures/sqs-runtime-unloaded";
import { runtimeFactory } from "../../../components/core/runtime-factory";
import { echoRuntime } from "../../fixtures/azure-echo-runtime";
import { sqsRuntime } from "../../fixtures/sqs-runtime";
import { FunctionApp } from "../../../components/azure/function-app";
import { LambdaFunction } from "../../../components/aws/lambda-function";
import { ArtifactProcess } from "../../../testing/artifact-runner";
import { nodeBuild } from "../../harness/node-builds";
import { type Fauxqs, fauxqsClientConfig, fauxqsFunctionEnv, useFauxqs } from "../../../testing/emulators";
import { sqsSender } from "../../fixtures/callbacks";

const plainCallbackRuntime = runtimeFactory<typeof plainCallback>(require.resolve("../../../runtime/lambda-function"))(
  "createHandler",
);
const echoEntry = runtimeEntry(echoRuntime, { queueName: "echo-in" });

function lambdaSpec(handler: (...args: never[]) => unknown) {
  return {
    owner: 'Test "spec"',
    host: "aws-lambda" as const,
    entry: runtimeEntry(plainCallbackRuntime, undefined),
    callbacks: { handler },
    nodeMajor: 22,
  };
}

describe("a Lambda artifact built from an inline closure", () => {
  let fauxqs: Fauxqs;
  before(async () => {
    fauxqs = await useFauxqs();
  });
  after(async () => fauxqs.stop());

  it("runs from an empty folder with no node_modules and sends to SQS with the bundled SDK", async () => {
    const fn = new LambdaFunction("sender", { callbacks: { handler: sqsSender("hello") } });
    const artifact = await resolve(fn.artifact);
    const sqs = new SQSClient(fauxqsClientConfig(fauxqs));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "artifact-sender" }));
    const runner = await ArtifactProcess.start(zipBytes(artifact), "aws-lambda", fauxqsFunctionEnv(fauxqs), nodeBuild);
    try {
      const invocation = await runner.invoke({ queueUrl: QueueUrl, body: "world" });
      assert.equal(invocation.error, undefined, JSON.stringify(invocation.error));
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
      assert.equal(received.Messages?.[0]?.Body, "hello world");
      assert.equal((invocation.result as { messageId: string }).messageId, received.Messages?.[0]?.MessageId);
      assert.ok(invocation.logs.some((line) => line.includes("sent")));
    } finally {
      await runner.stop();
    }
  });

  it("holds exactly one file, index.js, a single minified CommonJS bundle", async () => {
    const artifact = await buildArtifact(lambdaSpec(sqsSender("hello")));
    assert.deepEqual(Object.keys(unzipSync(zipBytes(artifact))), ["index.js"]);
    const bundle = artifact.files["index.js"];
    assert.ok(bundle.length / bundle.split("\n").length > 1000, "bundle is minified: long lines");
    assert.ok(zipBytes(artifact).byteLength < 300_000, `zip is ${zipBytes(artifact).byteLength} bytes`);
  });

  it("turns import() into require: an ES module namespace of a built-in copies every export (https://nodejs.org/api/esm.html#builtin-modules), which for node:http loads undici", async () => {
    // The SDK's ES builds load node:http with `await import("node:http")` for plain-HTTP endpoints.
    const artifact = await buildArtifact(lambdaSpec(sqsSender("hello")));
    assert.match(artifact.files["index.js"], /require\("node:http"\)/);
    assert.doesNotMatch(artifact.files["index.js"], /\bimport\(/);
  });

  it("leaves @aws-sdk out of the bundle when awsSdk is runtime", async () => {
    const bundled = await resolve(new LambdaFunction("bundled", { callbacks: { handler: sqsSender("a") } }).artifact);
    const external = await resolve(
      new LambdaFunction("external", { callbacks: { handler: sqsSender("a") }, awsSdk: "runtime" }).artifact,
    );
    assert.match(external.files["index.js"], /require\("@aws-sdk\/client-sqs"\)/);
    assert.ok(zipBytes(external).byteLength * 10 < zipBytes(bundled).byteLength);
  });
});

describe("where the AWS SDK comes from", () => {
  it("leaves the SDK that a runtime module imports out of the bundle when awsSdk is runtime", async () => {
    const runtimeSdk = runtimeEntry(sqsRuntime, undefined);
    const external = await resolve(
      new LambdaFunction("runtime-sdk", { entry: runtimeSdk, callbacks: {}, awsSdk: "runtime" }).artifact,
    );
    const bundled = await resolve(new LambdaFunction("bundled-sdk", { entry: runtimeSdk, callbacks: {} }).artifact);
    assert.match(external.files["index.js"], /require\("@aws-sdk\/client-sqs"\)/);
    assert.ok(external.files["index.js"].length < 5_000, `${external.files["index.js"].length} characters`);
    assert.doesNotMatch(bundled.files["index.js"], /require\("@aws-sdk\/client-sqs"\)/);
  });
});

describe("the Node.js an artifact runs on", () => {
  // https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html: nodejs22.x runs Node.js 22, nodejs24.x Node.js 24.
  for (const [runtime, major] of [
    ["nodejs22.x", 22],
    ["nodejs24.x", 24],
  ] as const) {
    it(`runs a ${runtime} artifact on the official Node.js ${major} build, not on the machine's node`, async () => {
      const fn = new LambdaFunction(`on-${major}`, { runtime, callbacks: { handler: async () => process.version } });
      const artifact = await resolve(fn.artifact);
      await recorder.settle();
      assert.equal(recorder.named("aws:lambda/function:Function", `on-${major}-function`).inputs.runtime, runtime);
      assert.match(artifact.files["index.js"], new RegExp(`^// Node\\.js ${major} \\(queue-patterns artifact\\)\n`));
      const runner = await ArtifactProcess.start(zipBytes(artifact), "aws-lambda", {}, nodeBuild);
      try {
        const invocation = await runner.invoke({});
        assert.equal(invocation.error, undefined, JSON.stringify(invocation.error));
        assert.match(String(invocation.result), new RegExp(`^v${major}\\.`));
        assert.equal(runner.node.version, invocation.result);
      } finally {
        await runner.stop();
      }
    });
  }

  it("runs an Azure artifact on the Node.js major its Function App deploys (functionAppConfig.runtime.version)", async () => {
    const app = new FunctionApp("echo-node", {
      resourceGroupName: "rg",
      entry: echoEntry,
      functionNames: ["echo"],
      callbacks: { handler: async () => process.version },
    });
    const artifact = await resolve(app.artifact);
    await recorder.settle();
    const deployed = recorder.named("azure-native:web:WebApp", "echo-node-app").inputs.functionAppConfig.runtime
      .version;
    assert.match(deployed, /^\d+$/);
    const runner = await ArtifactProcess.start(zipBytes(artifact), "azure-functions", {}, nodeBuild);
    try {
      const invocation = await runner.invokeFunction("echo", "ping");
      assert.match(String(invocation.result), new RegExp(`^v${deployed}\\.`));
    } finally {
      await runner.stop();
    }
  });

  it("names the dev dependency to add when no build of a Node.js major is installed", () => {
    assert.throws(
      () => nodeBuild(19),
      /no Node\.js 19 build for [a-z0-9]+-[a-z0-9]+: .* Add "node19-[a-z0-9]+-[a-z0-9]+": "npm:node-[a-z0-9]+-[a-z0-9]+@\^19" to its optionalDependencies/,
    );
  });
});

describe("artifact determinism", () => {
  const probe = path.join(__dirname, "..", "..", "fixtures", "print-artifact-hash.js");
  // With the bundle cache off, so each run really bundles and zips (bundle-cache.test.ts compares cached and fresh).
  const hashFromFreshProcess = (greeting: string) =>
    execFileSync(process.execPath, [probe, greeting], {
      encoding: "utf8",
      env: { ...process.env, QUEUE_PATTERNS_CACHE: "off" },
    }).trim();

  it("gives a byte-identical archive from two separate runs of the program", () => {
    const first = hashFromFreshProcess("hello");
    const second = hashFromFreshProcess("hello");
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(first, second);
  });

  it("gives a different archive when the callback's captured value changes", () => {
    assert.notEqual(hashFromFreshProcess("hello"), hashFromFreshProcess("goodbye"));
  });

  it("zips the same files to the same bytes whatever the order they are given in", () => {
    const a = zipDeterministic({ "b.txt": "b", "a.txt": "a" });
    const b = zipDeterministic({ "a.txt": "a", "b.txt": "b" });
    assert.deepEqual(Buffer.from(a), Buffer.from(b));
  });
});

describe("an Azure Functions artifact", () => {
  it("holds host.json with the v4 extension bundle, a package.json whose main is the bundle, and the bundle", async () => {
    const app = new FunctionApp("echo", {
      resourceGroupName: "rg",
      entry: echoEntry,
      functionNames: ["echo"],
      callbacks: { handler: async () => "ok" },
    });
    const artifact = await resolve(app.artifact);
    const files = unzipSync(zipBytes(artifact));
    assert.deepEqual(Object.keys(files).sort(), ["host.json", "index.js", "package.json"]);
    const host = JSON.parse(Buffer.from(files["host.json"]).toString());
    assert.deepEqual(host.extensionBundle, {
      id: "Microsoft.Azure.Functions.ExtensionBundle",
      version: "[4.0.0, 5.0.0)",
    });
    assert.equal(JSON.parse(Buffer.from(files["package.json"]).toString()).main, "index.js");
    assert.match(
      artifact.files["index.js"],
      /require\("@azure\/functions-core"\)/,
      "the worker's module stays external",
    );
  });

  it("registers its trigger with the worker's core API and runs the callback", async () => {
    const app = new FunctionApp("echo2", {
      resourceGroupName: "rg",
      entry: echoEntry,
      functionNames: ["echo"],
      callbacks: { handler: async (message: unknown) => ({ echoed: message }) },
    });
    const runner = await ArtifactProcess.start(zipBytes(await resolve(app.artifact)), "azure-functions", {}, nodeBuild);
    try {
      const [registration] = await runner.registrations();
      assert.equal(registration.name, "echo");
      assert.equal(
        registration.bindings.queueTrigger?.type ?? Object.values(registration.bindings)[0].type,
        "queueTrigger",
      );
      assert.equal(Object.values(registration.bindings)[0].queueName, "echo-in");
      const invocation = await runner.invokeFunction("echo", { id: 7 });
      assert.deepEqual(invocation.result, { echoed: { id: 7 } });
    } finally {
      await runner.stop();
    }
  });
});

describe("callbacks that cannot be packaged fail with the component and argument named", () => {
  it("rejects a callback that captures `this`", async () => {
    class Holder {
      prefix = "x";
      make() {
        return async () => this.prefix;
      }
    }
    await assert.rejects(buildArtifact(lambdaSpec(new Holder().make())), (error: Error) => {
      assert.ok(error instanceof ClosurePackagingError);
      assert.match(error.message, /^Test "spec": the handler callback cannot be packaged: .*captured 'this'/s);
      return true;
    });
  });

  it("rejects a callback that captures a native function, as a native add-on's exports are", async () => {
    const addon = { checksum: Function.prototype.call.bind(Math.max) };
    await assert.rejects(
      buildArtifact(lambdaSpec(async () => addon.checksum(1, 2))),
      /Test "spec": the handler callback cannot be packaged: .*native code/s,
    );
  });

  it("rejects a callback that captures a secret Output", async () => {
    const token = pulumi.secret("s3cr3t");
    await assert.rejects(
      buildArtifact(lambdaSpec(async () => token.get())),
      /Test "spec": the handler callback cannot be packaged: Secret outputs cannot be captured/,
    );
  });

  it("rejects a callback that captures @pulumi/pulumi", async () => {
    await assert.rejects(
      buildArtifact(lambdaSpec(async () => pulumi.getStack())),
      /Test "spec": a callback captures @pulumi\/\*/,
    );
  });

  it("rejects a callback that loads a native add-on through node-gyp-build, naming the package", async () => {
    // A program folder with an add-on package shaped like those on npm: its main module asks
    // node-gyp-build for the binary beside it (https://github.com/prebuild/node-gyp-build#usage).
    const program = fs.mkdtempSync(path.join(os.tmpdir(), "qp-native-"));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(program, file)), { recursive: true });
      fs.writeFileSync(path.join(program, file), text);
    };
    write("node_modules/fast-hash/package.json", '{"name":"fast-hash","main":"index.js"}');
    write("node_modules/fast-hash/index.js", 'module.exports = require("node-gyp-build")(__dirname);');
    write("node_modules/node-gyp-build/package.json", '{"name":"node-gyp-build","main":"index.js"}');
    write(
      "node_modules/node-gyp-build/index.js",
      'module.exports = function load(dir) { throw new Error("No native build was found for " + dir); };',
    );
    const cwd = process.cwd();
    process.chdir(program);
    try {
      await assert.rejects(buildArtifact(lambdaSpec(async () => require("fast-hash").digest("x"))), {
        name: "ClosurePackagingError",
        message:
          'Test "spec": a callback loads the native add-on fast-hash through node-gyp-build, which finds the add-on\'s ' +
          "binary on disk at run time; a single-file bundle does not carry it, so the function would fail at cold start with " +
          '"No native build was found". Use a pure-JavaScript package instead (or the package\'s JavaScript fallback, if it ' +
          "has one, by importing that directly).",
      });
    } finally {
      process.chdir(cwd);
      fs.rmSync(program, { recursive: true, force: true });
    }
  });

  it("names the fix when a callback captures a module imported under esModuleInterop", async () => {
    // What TypeScript emits for `import * as sqs from ...` with esModuleInterop: true (tslib's __importStar):
    // a plain object of getters over the module, with the module itself as `default`.
    const importStar = (module: Record<string, unknown>) => {
      const wrapper: Record<string, unknown> = {};
      for (const key of Object.keys(module)) {
        if (key !== "default") Object.defineProperty(wrapper, key, { enumerable: true, get: () => module[key] });
      }
      Object.defineProperty(wrapper, "default", { enumerable: true, value: module });
      return wrapper;
    };
    const sqs = importStar(require("@aws-sdk/client-sqs")) as unknown as typeof import("@aws-sdk/client-sqs");
    await assert.rejects(buildArtifact(lambdaSpec(async () => new sqs.SQSClient({}))), (error: Error) => {
      assert.match(
        error.message,
        /\n`sqs` is a module as TypeScript imports it with esModuleInterop: true \(wrapped by __importStar\), which the serializer cannot tell from a plain object\. Compile the program with esModuleInterop off \(the module is then captured as a module and bundled\), or import the module inside the callback\.$/,
      );
      return true;
    });
  });

  it("names the fix when a callback captures an SDK client created while the program ran", async () => {
    const client = new SQSClient({ region: "us-east-1" });
    await assert.rejects(buildArtifact(lambdaSpec(async () => client.config)), (error: Error) => {
      assert.match(
        error.message,
        /\n`client` is a SQSClient created while the Pulumi program ran; it holds that machine's credentials, connections and native objects, which cannot travel into the function\. Create the client inside the callback, or at module scope of a runtime module, so each function instance makes its own\.$/,
      );
      return true;
    });
  });

  it("rejects a callback argument that is not a function", async () => {
    await assert.rejects(
      buildArtifact(lambdaSpec("not a function" as unknown as () => void)),
      /Test "spec": handler must be a function; got string/,
    );
  });
});

describe("the runtime entry", () => {
  it("calls the factory by the name the component declares", async () => {
    const artifact = await buildArtifact(lambdaSpec(async () => "ok"));
    assert.match(artifact.files["index.js"], /\.createHandler\(/);
  });

  it("builds without loading the runtime into the deploying program", async () => {
    const entryFile = require.resolve("../../fixtures/sqs-runtime-unloaded");
    delete require.cache[entryFile];
    const runtime = runtimeFactory<typeof unloaded>(entryFile)("createHandler");
    await buildArtifact({ ...lambdaSpec(async () => "ok"), entry: runtimeEntry(runtime, undefined) });
    assert.equal(require.cache[entryFile], undefined);
  });

  it("refuses, at compile time, a factory the entry does not export or an option it does not take", () => {
    const runtimes = runtimeFactory<typeof plainCallback>(require.resolve("../../../runtime/lambda-function"));
    // @ts-expect-error: the entry exports no createMissing.
    runtimes("createMissing");
    // @ts-expect-error: createHandler takes no options.
    runtimeEntry(runtimes("createHandler"), { queueName: "in" });
  });
});
