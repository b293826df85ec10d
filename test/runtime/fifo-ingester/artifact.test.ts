import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { unzipSync } from "fflate";
import { installMocks, resolve } from "../../../testing/mocks";

installMocks();

import { zipBytes } from "../../../components/core/artifact";
import { FifoIngester } from "../../../components/fifo-ingester";
import { RejectMessage } from "../../../runtime/shared/reject-message";
import { ArtifactProcess } from "../../../testing/artifact-runner";
import { nodeBuild } from "../../harness/node-builds";
import { fifoRecord } from "../../harness/rigs/fifo";

interface Listing {
  id: string;
  fail?: boolean;
}

const record = (n: number, groupId: string, body: Listing) => fifoRecord(n, groupId, body);

describe("the FifoIngester artifact built by the component", () => {
  let zip: Buffer;
  let runner: ArtifactProcess;
  before(async () => {
    const ingester = new FifoIngester<Listing>("artifact", {
      handler: async (listing) => {
        if (listing.fail) throw new Error(`cannot ingest ${listing.id}`);
        console.log("ingested", listing.id);
      },
    });
    zip = zipBytes(await resolve(ingester.function.artifact));
    runner = await ArtifactProcess.start(zip, "aws-lambda", {}, nodeBuild);
  });
  after(async () => runner?.stop());

  it("is one bundle, index.js, small enough to keep cold starts short", () => {
    assert.deepEqual(Object.keys(unzipSync(zip)), ["index.js"]);
    assert.ok(zip.byteLength < 250_000, `zip is ${zip.byteLength} bytes`);
  });

  it("fails the rest of a group after its first failure within one batch, and processes the other groups", async () => {
    const invocation = await runner.invoke({
      Records: [
        record(1, "a", { id: "a1" }),
        record(2, "b", { id: "b1" }),
        record(3, "a", { id: "a2", fail: true }),
        record(4, "b", { id: "b2" }),
        record(5, "a", { id: "a3" }),
      ],
    });
    assert.equal(invocation.error, undefined);
    assert.deepEqual(invocation.result, {
      batchItemFailures: [{ itemIdentifier: "message-3" }, { itemIdentifier: "message-5" }],
    });
    const ingested = invocation.logs
      .map((line) => JSON.parse(line).message)
      .filter((message) => typeof message === "string" && message.startsWith("ingested"))
      .map((message: string) => message.split(" ").pop());
    assert.deepEqual(ingested.sort(), ["a1", "b1", "b2"]);
  });

  // Lambda's JSON log format, as the runtime client writes it (test/harness/artifact-host.ts):
  // the record's ids must be fields of `message`, not an escaped string inside it, for Logs Insights.
  it("logs the failure as one JSON line at WARN whose message is an object with the record's ids", async () => {
    const invocation = await runner.invoke({ Records: [record(6, "c", { id: "c1", fail: true })] });
    const lines = invocation.logs.map((line) => JSON.parse(line));
    const failure = lines.find((line) => line.message?.message === "FifoIngester: record failed");
    assert.ok(failure, invocation.logs.join("\n"));
    assert.equal(failure.level, "WARN");
    assert.match(failure.requestId, /^req-/);
    assert.equal(failure.message.messageId, "message-6");
    assert.equal(failure.message.groupId, "c");
    assert.equal(failure.message.deduplicationId, "dedup-6");
    assert.equal(failure.message.error, "cannot ingest c1");
  });
});

describe("a FifoIngester artifact whose handler rejects records with RejectMessage", () => {
  let runner: ArtifactProcess;
  before(async () => {
    const ingester = new FifoIngester<Listing>("rejecting", {
      handler: async (listing) => {
        if (listing.fail) throw new RejectMessage(`listing ${listing.id} has no price`);
      },
    });
    // No FIFO_INGESTER_DLQ_URL: the dead-letter send fails, and its log shows the rejection was recognised.
    runner = await ArtifactProcess.start(
      zipBytes(await resolve(ingester.function.artifact)),
      "aws-lambda",
      {},
      nodeBuild,
    );
  });
  after(async () => runner?.stop());

  it("packages the class the handler captured, and the runtime recognises it as a rejection", async () => {
    const invocation = await runner.invoke({ Records: [record(1, "a", { id: "a1", fail: true })] });
    assert.equal(invocation.error, undefined);
    const line = invocation.logs.find((entry) => entry.includes("record failed")) ?? "";
    assert.match(
      JSON.parse(line).message.error,
      /message-1 \(rejected by the handler: listing a1 has no price\) cannot be dead-lettered/,
    );
  });
});
