import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { buildArtifact, runtimeEntry, zipBytes } from "../../../components/core/artifact";
import { runtimeFactory } from "../../../components/core/runtime-factory";
import type * as plainCallback from "../../../runtime/lambda-function";
import { throwingCallback } from "../../fixtures/throwing-callback";
import { ArtifactProcess } from "../../../testing/artifact-runner";

const plainCallbackRuntime = runtimeFactory<typeof plainCallback>(require.resolve("../../../runtime/lambda-function"))(
  "createHandler",
);

/** The 1-based line of the fixture's TypeScript source that throws. */
const fixtureSource = path.join(__dirname, "..", "..", "..", "..", "test", "fixtures", "throwing-callback.ts");
const thrownLine =
  fs
    .readFileSync(fixtureSource, "utf8")
    .split("\n")
    .findIndex((line) => line.includes("// THROWN HERE")) + 1;

async function stackFromArtifact(nodeMajor: number, sourceMap: boolean): Promise<{ stack: string; files: string[] }> {
  const artifact = await buildArtifact({
    owner: 'Test "source map"',
    host: "aws-lambda",
    entry: runtimeEntry(plainCallbackRuntime, undefined),
    callbacks: { handler: throwingCallback(`node${nodeMajor}`) },
    nodeMajor,
    sourceMap,
  });
  const runner = await ArtifactProcess.start(zipBytes(artifact), "aws-lambda");
  try {
    const { result, error } = await runner.invoke({});
    assert.equal(error, undefined);
    return { stack: String(result), files: Object.keys(artifact.files).sort() };
  } finally {
    await runner.stop();
  }
}

describe("an artifact built with sourceMap", () => {
  for (const nodeMajor of [22, 24]) {
    it(`reports the callback's TypeScript line in a stack trace on Node.js ${nodeMajor}`, async () => {
      const { stack, files } = await stackFromArtifact(nodeMajor, true);
      assert.deepEqual(files, ["bundle.js", "bundle.js.map", "index.js"]);
      assert.match(stack, new RegExp(`throwing-callback\\.ts:${thrownLine}:\\d+`), stack);
    });
  }

  it("reports only the bundle's lines without it", async () => {
    const { stack, files } = await stackFromArtifact(24, false);
    assert.deepEqual(files, ["index.js"]);
    assert.doesNotMatch(stack, /\.ts:\d+/);
    assert.match(stack, /index\.js:\d+:\d+/);
  });
});
