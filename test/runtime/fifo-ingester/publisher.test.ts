import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { beforeEach, describe, it } from "node:test";
import { PublishBatchCommand, type PublishBatchCommandInput, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import {
  createPublisher,
  EARLIER_RECORD_FAILED,
  InvalidRecordsError,
  MAX_MESSAGE_BYTES,
  PublishError,
  type PublisherOptions,
} from "../../../runtime/fifo-ingester/publisher";

const TOPIC = "arn:aws:sns:us-east-1:123456789012:listings.fifo";

interface Listing {
  id: string;
  n: number;
  text?: string;
}

const listings = (count: number, groups: number): Listing[] =>
  Array.from({ length: count }, (_, n) => ({ id: `listing-${n % groups}`, n }));

function publisher(options: Partial<PublisherOptions<Listing>> = {}) {
  return createPublisher<Listing>({
    topicArn: TOPIC,
    groupId: (listing) => listing.id,
    client: new SNSClient({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } }),
    retryBaseDelayMs: 1,
    ...options,
  });
}

/** Accepts every entry, like SNS on a good day. */
const acceptAll = (input: PublishBatchCommandInput) => ({
  Successful: (input.PublishBatchRequestEntries ?? []).map((entry) => ({ Id: entry.Id, MessageId: `sns-${entry.Id}` })),
  Failed: [],
});

describe("the FifoIngester publisher", () => {
  const sns = mockClient(SNSClient);
  const sentEntries = () =>
    sns.commandCalls(PublishBatchCommand).flatMap((call) => call.args[0].input.PublishBatchRequestEntries ?? []);
  beforeEach(() => {
    sns.reset();
    sns.on(PublishBatchCommand).callsFake(acceptAll);
  });

  it("publishes in PublishBatch calls of 10 with the group id from the selector", async () => {
    const result = await publisher()(listings(25, 10));
    assert.equal(result.published, 25);
    assert.deepEqual(
      sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input.PublishBatchRequestEntries?.length),
      [10, 10, 5],
    );
    assert.equal(result.calls, 3);
    const first = sentEntries().find((entry) => entry.Id === "17");
    assert.equal(first?.MessageGroupId, "listing-7");
    assert.equal(first?.Message, JSON.stringify({ id: "listing-7", n: 17 }));
    assert.equal(sns.commandCalls(PublishBatchCommand)[0].args[0].input.TopicArn, TOPIC);
  });

  it("returns each record's SNS message id by position", async () => {
    const result = await publisher()(listings(3, 1));
    assert.deepEqual(result.messageIds, ["sns-0", "sns-1", "sns-2"]);
  });

  it("uses the SHA-256 of the body as the deduplication id by default, as content-based deduplication does", async () => {
    await publisher()([{ id: "a", n: 1 }]);
    const body = JSON.stringify({ id: "a", n: 1 });
    assert.equal(sentEntries()[0].MessageDeduplicationId, createHash("sha256").update(body).digest("hex"));
  });

  it("uses the deduplication id selector when given", async () => {
    await publisher({ deduplicationId: (listing) => `${listing.id}-v${listing.n}` })([{ id: "a", n: 4 }]);
    assert.equal(sentEntries()[0].MessageDeduplicationId, "a-v4");
  });

  it("sends string records as they are in raw mode", async () => {
    const raw = createPublisher<string>({
      topicArn: TOPIC,
      groupId: () => "g",
      body: "raw",
      client: new SNSClient({ region: "us-east-1" }),
    });
    await raw(["<listing id='1'/>"]);
    assert.equal(sentEntries()[0].Message, "<listing id='1'/>");
  });

  it("resends only the entries SNS failed with a server fault", async () => {
    sns
      .on(PublishBatchCommand)
      .callsFakeOnce(() => ({
        Successful: [
          { Id: "0", MessageId: "m0" },
          { Id: "2", MessageId: "m2" },
        ],
        Failed: [{ Id: "1", Code: "InternalError", Message: "try again", SenderFault: false }],
      }))
      .callsFake(acceptAll);
    const result = await publisher()([
      { id: "a", n: 0 },
      { id: "b", n: 1 },
      { id: "c", n: 2 },
    ]);
    const calls = sns
      .commandCalls(PublishBatchCommand)
      .map((call) => call.args[0].input.PublishBatchRequestEntries?.map((e) => e.Id));
    assert.deepEqual(calls, [["0", "1", "2"], ["1"]]);
    assert.equal(result.published, 3);
    assert.equal(result.messageIds[1], "sns-1");
  });

  it("with strictOrder off, sends no later record of a group before a failed earlier one has been accepted", async () => {
    sns
      .on(PublishBatchCommand)
      .callsFakeOnce(() => ({
        Successful: Array.from({ length: 9 }, (_, n) => ({ Id: String(n + 1), MessageId: `m${n + 1}` })),
        Failed: [{ Id: "0", Code: "Throttled", Message: "slow down", SenderFault: false }],
      }))
      .callsFake(acceptAll);
    await publisher({ concurrency: 1, strictOrder: false })(
      Array.from({ length: 11 }, (_, n) => ({ id: "only-group", n })),
    );
    const calls = sns
      .commandCalls(PublishBatchCommand)
      .map((call) => call.args[0].input.PublishBatchRequestEntries?.map((e) => e.Id));
    assert.deepEqual(calls, [
      ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
      ["0", "10"],
    ]);
  });

  it("puts at most one record per group in a call by default, so a resend is never overtaken", async () => {
    await publisher({ concurrency: 1 })([
      { id: "a", n: 0 },
      { id: "a", n: 1 },
      { id: "b", n: 2 },
      { id: "a", n: 3 },
      { id: "c", n: 4 },
    ]);
    const calls = sns
      .commandCalls(PublishBatchCommand)
      .map((call) => call.args[0].input.PublishBatchRequestEntries?.map((e) => e.Id));
    assert.deepEqual(calls, [["0", "2", "4"], ["1"], ["3"]]);
  });

  it("keeps each group's order when calls run concurrently", async () => {
    const records = listings(200, 3);
    await publisher({ concurrency: 4 })(records);
    const byGroup = new Map<string, number[]>();
    for (const entry of sentEntries()) {
      const { id, n } = JSON.parse(entry.Message ?? "") as Listing;
      byGroup.set(id, [...(byGroup.get(id) ?? []), n]);
    }
    for (const [group, ns] of byGroup)
      assert.deepEqual(
        ns,
        [...ns].sort((a, b) => a - b),
        `group ${group} out of order`,
      );
    assert.equal(sentEntries().length, 200);
  });

  it("does not resend entries SNS failed as the sender's fault, and reports them", async () => {
    sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => ({
      Successful: (input.PublishBatchRequestEntries ?? [])
        .filter((e) => e.Id !== "1")
        .map((e) => ({ Id: e.Id, MessageId: "x" })),
      Failed: [{ Id: "1", Code: "InvalidParameter", Message: "bad", SenderFault: true }],
    }));
    await assert.rejects(publisher()(listings(3, 3)), (error: Error) => {
      assert.ok(error instanceof PublishError);
      assert.deepEqual(error.failures, [{ index: 1, code: "InvalidParameter", message: "bad" }]);
      assert.equal(error.published, 2);
      assert.equal(error.message, "1 record(s) were not published (2 were):\n  record 1: InvalidParameter: bad");
      return true;
    });
    assert.equal(sns.commandCalls(PublishBatchCommand).length, 1);
  });

  it("after a record fails for good, sends no later record of its group and lists them, while other groups go on", async () => {
    // Records 0..7 alternate between groups a and b: a = 0, 2, 4, 6; b = 1, 3, 5, 7. SNS refuses record 4 (a's third).
    sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => {
      const entries = input.PublishBatchRequestEntries ?? [];
      return {
        Successful: entries.filter((e) => e.Id !== "4").map((e) => ({ Id: e.Id, MessageId: `sns-${e.Id}` })),
        Failed: entries
          .filter((e) => e.Id === "4")
          .map((e) => ({ Id: e.Id, Code: "InvalidParameter", Message: "bad", SenderFault: true })),
      };
    });
    const records = Array.from({ length: 8 }, (_, n) => ({ id: n % 2 === 0 ? "a" : "b", n }));
    await assert.rejects(publisher()(records), (error: Error) => {
      assert.ok(error instanceof PublishError);
      assert.deepEqual(error.failures, [
        { index: 4, code: "InvalidParameter", message: "bad" },
        {
          index: 6,
          code: EARLIER_RECORD_FAILED,
          message: `not sent: record 4 of group "a" was not published, and sending later records would break the group's order`,
        },
      ]);
      assert.equal(error.published, 6);
      return true;
    });
    const sentOfA = sentEntries()
      .filter((entry) => entry.MessageGroupId === "a")
      .map((entry) => entry.Id);
    assert.deepEqual(sentOfA, ["0", "2", "4"], "record 6 of group a is never sent");
    assert.deepEqual(
      sentEntries()
        .filter((entry) => entry.MessageGroupId === "b")
        .map((entry) => entry.Id),
      ["1", "3", "5", "7"],
    );
  });

  it("fails the rest of a group once a record of it exhausts its attempts on server faults", async () => {
    sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => {
      const entries = input.PublishBatchRequestEntries ?? [];
      return {
        Successful: entries.filter((e) => e.Id !== "1").map((e) => ({ Id: e.Id, MessageId: `sns-${e.Id}` })),
        Failed: entries
          .filter((e) => e.Id === "1")
          .map((e) => ({ Id: e.Id, Code: "InternalError", Message: "down", SenderFault: false })),
      };
    });
    await assert.rejects(publisher({ maxAttempts: 2 })(listings(4, 1)), (error: Error) => {
      assert.ok(error instanceof PublishError);
      assert.deepEqual(
        error.failures.map((f) => [f.index, f.code]),
        [
          [1, "InternalError"],
          [2, EARLIER_RECORD_FAILED],
          [3, EARLIER_RECORD_FAILED],
        ],
      );
      assert.equal(error.published, 1);
      return true;
    });
    assert.deepEqual(
      sentEntries().map((entry) => entry.Id),
      ["0", "1", "1"],
    );
  });

  it("gives up on an entry after maxAttempts server faults and reports it", async () => {
    sns
      .on(PublishBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: "0", Code: "InternalError", Message: "down", SenderFault: false }] });
    await assert.rejects(publisher({ maxAttempts: 3 })([{ id: "a", n: 0 }]), (error: Error) => {
      assert.ok(error instanceof PublishError);
      assert.deepEqual(error.failures, [{ index: 0, code: "InternalError", message: "down" }]);
      return true;
    });
    assert.equal(sns.commandCalls(PublishBatchCommand).length, 3);
  });

  it(
    "counts an entry SNS's answer leaves out as an attempt, and gives up on it after maxAttempts",
    { timeout: 10_000 },
    async () => {
      sns.on(PublishBatchCommand).resolves({ Successful: [], Failed: [] });
      await assert.rejects(publisher({ maxAttempts: 3 })([{ id: "a", n: 0 }]), (error: Error) => {
        assert.ok(error instanceof PublishError);
        assert.deepEqual(error.failures, [
          { index: 0, code: "NotConfirmed", message: "SNS's answer did not mention it" },
        ]);
        return true;
      });
      assert.equal(sns.commandCalls(PublishBatchCommand).length, 3);
    },
  );

  it("stops and reports every unpublished record when a call fails after the SDK's own retries", async () => {
    sns
      .on(PublishBatchCommand)
      .callsFakeOnce(acceptAll)
      .rejects(Object.assign(new Error("no route to host"), { name: "NetworkingError" }));
    await assert.rejects(publisher({ concurrency: 1 })(listings(15, 15)), (error: Error) => {
      assert.ok(error instanceof PublishError);
      assert.equal(error.published, 10);
      assert.deepEqual(
        error.failures.map((f) => f.index),
        [10, 11, 12, 13, 14],
      );
      assert.equal(error.failures[0].code, "NetworkingError");
      return true;
    });
  });

  it("rejects a group id over 128 characters before sending anything", async () => {
    const long = "x".repeat(129);
    await assert.rejects(
      publisher()([
        { id: "ok", n: 0 },
        { id: long, n: 1 },
      ]),
      {
        name: "InvalidRecordsError",
        message:
          "1 record(s) cannot be published; nothing was sent:\n  record 1: has a group id of 129 characters; SNS FIFO allows at most 128. Use a shorter id or a hash of it.",
      },
    );
    assert.equal(sns.commandCalls(PublishBatchCommand).length, 0);
  });

  it("rejects a group id with characters SNS refuses", async () => {
    await assert.rejects(publisher()([{ id: "has space", n: 0 }]), {
      message:
        '1 record(s) cannot be published; nothing was sent:\n  record 0: has a group id "has space" with characters SNS FIFO rejects; use letters, digits and punctuation (no spaces).',
    });
  });

  it("rejects an empty group id", async () => {
    await assert.rejects(publisher()([{ id: "", n: 0 }]), {
      message:
        '1 record(s) cannot be published; nothing was sent:\n  record 0: has no group id (got ""); the selector must return a non-empty string.',
    });
  });

  it("rejects a message over 256 KB before sending anything", async () => {
    const big = { id: "a", n: 0, text: "x".repeat(MAX_MESSAGE_BYTES) };
    await assert.rejects(publisher()([big]), (error: Error) => {
      assert.ok(error instanceof InvalidRecordsError);
      assert.equal(
        error.message,
        `1 record(s) cannot be published; nothing was sent:\n  record 0: is ${JSON.stringify(big).length} bytes; SNS allows at most 262144 bytes (256 KB) per message. Store large payloads elsewhere (e.g. S3) and publish a reference.`,
      );
      return true;
    });
    assert.equal(sns.commandCalls(PublishBatchCommand).length, 0);
  });

  it("rejects a deduplication id over 128 characters", async () => {
    await assert.rejects(publisher({ deduplicationId: () => "d".repeat(200) })([{ id: "a", n: 0 }]), {
      message:
        "1 record(s) cannot be published; nothing was sent:\n  record 0: has a deduplication id of 200 characters; SNS FIFO allows at most 128. Use a shorter id or a hash of it.",
    });
  });

  it("rejects a non-string record in raw mode", async () => {
    const raw = createPublisher<unknown>({
      topicArn: TOPIC,
      groupId: () => "g",
      body: "raw",
      client: new SNSClient({ region: "us-east-1" }),
    });
    await assert.rejects(raw([42]), {
      message:
        "1 record(s) cannot be published; nothing was sent:\n  record 0: is not a string; raw records must be strings.",
    });
  });

  it("keeps each call's total under SNS's 256 KB batch limit", async () => {
    const text = "y".repeat(60_000);
    const records = Array.from({ length: 10 }, (_, n) => ({ id: `g${n}`, n, text }));
    await publisher({ concurrency: 1 })(records);
    const sizes = sns
      .commandCalls(PublishBatchCommand)
      .map((call) =>
        (call.args[0].input.PublishBatchRequestEntries ?? []).reduce(
          (sum, e) => sum + Buffer.byteLength(e.Message ?? ""),
          0,
        ),
      );
    assert.ok(
      sizes.every((size) => size <= MAX_MESSAGE_BYTES),
      JSON.stringify(sizes),
    );
    assert.deepEqual(
      sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input.PublishBatchRequestEntries?.length),
      [4, 4, 2],
    );
  });

  it("publishes 10,000 records across 100 groups at 10 messages per call", async () => {
    const result = await publisher()(listings(10_000, 100));
    assert.equal(result.published, 10_000);
    assert.equal(result.calls, 1_000);
  });
});
