import * as assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import {
  DEAD_LETTER_QUEUE_URL_ENV,
  type FifoRecordHandler,
  type FifoRecordMetadata,
} from "../../../runtime/fifo-ingester/contract";
import { createConsumer, type SqsRecord } from "../../../runtime/fifo-ingester/handler";
import { RejectMessage } from "../../../runtime/shared/reject-message";
import { fifoRecord } from "../../harness/rigs/fifo";

const DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/listings-dlq.fifo";

let sequence = 0;
/** A record with the next sequence number. */
function record(groupId: string, body: unknown, receiveCount = 1): SqsRecord {
  return fifoRecord(++sequence, groupId, body, receiveCount);
}

function handlerWith(callback: FifoRecordHandler, options = {}) {
  return createConsumer({ handler: callback }, options).handler;
}

const failedIds = (response: { batchItemFailures: { itemIdentifier: string }[] }) =>
  response.batchItemFailures.map((failure) => failure.itemIdentifier).sort();

/** A console call: its method, and its arguments (Lambda's runtime keeps a single object argument as an object). */
interface LogCall {
  level: "info" | "warn" | "error";
  args: unknown[];
}

/** Captures the console calls while `body` runs. */
async function capturingErrors<R>(body: () => Promise<R>): Promise<{ result: R; lines: LogCall[] }> {
  const lines: LogCall[] = [];
  const originals = { info: console.info, warn: console.warn, error: console.error };
  for (const level of ["info", "warn", "error"] as const) console[level] = (...args) => lines.push({ level, args });
  try {
    return { result: await body(), lines };
  } finally {
    Object.assign(console, originals);
  }
}

/** The one object a console call logged. */
function loggedObject(call: LogCall): Record<string, unknown> {
  assert.equal(call.args.length, 1, "one argument, so the runtime keeps it as the line's message");
  assert.equal(typeof call.args[0], "object", "an object, not a JSON string");
  return call.args[0] as Record<string, unknown>;
}

describe("the FifoIngester handler", () => {
  const sqs = mockClient(SQSClient);
  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: "dlq-message" });
    process.env[DEAD_LETTER_QUEUE_URL_ENV] = DLQ_URL;
  });
  afterEach(() => {
    delete process.env[DEAD_LETTER_QUEUE_URL_ENV];
  });

  it("passes the parsed JSON body and the record's metadata to the callback", async () => {
    const seen: [unknown, FifoRecordMetadata][] = [];
    const input = record("listing-1", { id: "listing-1", price: 100 }, 3);
    const response = await handlerWith(async (body, meta) => void seen.push([body, meta]))({ Records: [input] });
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.deepEqual(seen, [
      [
        { id: "listing-1", price: 100 },
        {
          messageId: input.messageId,
          groupId: "listing-1",
          deduplicationId: input.attributes.MessageDeduplicationId,
          sequenceNumber: input.attributes.SequenceNumber,
          receiveCount: 3,
        },
      ],
    ]);
  });

  it("passes the body string unparsed in raw mode", async () => {
    const seen: unknown[] = [];
    await handlerWith(async (body) => void seen.push(body), { body: "raw" })({ Records: [record("g", "not json {")] });
    assert.deepEqual(seen, ["not json {"]);
  });

  it("runs a group's records one at a time in queue order", async () => {
    const events: string[] = [];
    const records = [1, 2, 3].map((n) => record("listing-1", { n }));
    await handlerWith(async (body) => {
      const { n } = body as { n: number };
      events.push(`start ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`end ${n}`);
    })({ Records: records });
    assert.deepEqual(events, ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("runs different groups concurrently", async () => {
    let releaseA: () => void = () => {};
    const aWaitsForB = new Promise<void>((resolve) => (releaseA = resolve));
    const handler = handlerWith(async (body) => {
      const { group } = body as { group: string };
      if (group === "a") await aWaitsForB;
      else releaseA();
    });
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error("groups ran one after the other")), 2000),
    );
    const response = await Promise.race([
      handler({ Records: [record("a", { group: "a" }), record("b", { group: "b" })] }),
      timeout,
    ]);
    assert.deepEqual(response, { batchItemFailures: [] });
  });

  it("reports a failed record and every later record of its group failed, and goes on with the other groups", async () => {
    const processed: string[] = [];
    const records = [
      record("a", { id: "a1" }),
      record("b", { id: "b1" }),
      record("a", { id: "a2", fail: true }),
      record("b", { id: "b2" }),
      record("a", { id: "a3" }),
      record("a", { id: "a4" }),
    ];
    const { result } = await capturingErrors(() =>
      handlerWith(async (body) => {
        const { id, fail } = body as { id: string; fail?: boolean };
        if (fail) throw new Error(`cannot ingest ${id}`);
        processed.push(id);
      })({ Records: records }),
    );
    assert.deepEqual(processed.sort(), ["a1", "b1", "b2"]);
    assert.deepEqual(failedIds(result), [records[2], records[4], records[5]].map((r) => r.messageId).sort());
  });

  it("reports every record failed, without throwing, when they all fail", async () => {
    const records = [record("a", {}), record("b", {})];
    const { result } = await capturingErrors(() =>
      handlerWith(async () => {
        throw new Error("down");
      })({ Records: records }),
    );
    assert.deepEqual(failedIds(result), records.map((r) => r.messageId).sort());
  });

  it("logs a failure as one object at WARN with the record's ids and the error, while SQS will deliver it again", async () => {
    const input = record("listing-9", { id: 9 }, 2);
    const { lines } = await capturingErrors(() =>
      handlerWith(
        async () => {
          throw new Error("upstream 503");
        },
        { maxReceiveCount: 5 },
      )({ Records: [input] }),
    );
    const failure = lines.find((call) => loggedObject(call).message === "FifoIngester: record failed");
    assert.equal(failure?.level, "warn");
    assert.deepEqual(loggedObject(failure as LogCall), {
      message: "FifoIngester: record failed",
      messageId: input.messageId,
      groupId: "listing-9",
      deduplicationId: input.attributes.MessageDeduplicationId,
      sequenceNumber: input.attributes.SequenceNumber,
      receiveCount: 2,
      finalAttempt: false,
      error: "upstream 503",
    });
  });

  it("flags the failure on the last receive before SQS dead-letters the message", async () => {
    const { lines } = await capturingErrors(() =>
      handlerWith(
        async () => {
          throw new Error("still failing");
        },
        { maxReceiveCount: 5 },
      )({ Records: [record("g", {}, 5)] }),
    );
    assert.equal(lines[0].level, "error");
    assert.equal(loggedObject(lines[0]).finalAttempt, true);
  });

  it("sends a body that is not JSON to the dead-letter queue with the reason, in its group, and reports it processed", async () => {
    const calls: unknown[] = [];
    const malformed = record("listing-7", "{not json", 1);
    const { result } = await capturingErrors(() =>
      handlerWith(async (body) => void calls.push(body))({ Records: [malformed] }),
    );
    assert.deepEqual(result, { batchItemFailures: [] });
    assert.deepEqual(calls, []);
    const sent = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].QueueUrl, DLQ_URL);
    assert.equal(sent[0].MessageBody, "{not json");
    assert.equal(sent[0].MessageGroupId, "listing-7");
    assert.equal(sent[0].MessageDeduplicationId, malformed.messageId);
    assert.deepEqual(sent[0].MessageAttributes?.SourceMessageId, {
      DataType: "String",
      StringValue: malformed.messageId,
    });
    assert.match(sent[0].MessageAttributes?.DeadLetterReason?.StringValue ?? "", /^body is not valid JSON: /);
  });

  it("logs a record it dead-letters itself at ERROR, with its ids and the reason", async () => {
    const malformed = record("listing-8", "{not json", 1);
    const { lines } = await capturingErrors(() => handlerWith(async () => {})({ Records: [malformed] }));
    assert.deepEqual(
      lines.map((call) => [call.level, loggedObject(call).message, loggedObject(call).groupId]),
      [["error", "FifoIngester: record moved to the dead-letter queue", "listing-8"]],
    );
  });

  it("logs nothing for a record the callback processes", async () => {
    const { lines } = await capturingErrors(() => handlerWith(async () => {})({ Records: [record("g", { n: 1 })] }));
    assert.deepEqual(lines, []);
  });

  it("goes on with the group after dead-lettering a malformed record", async () => {
    const processed: unknown[] = [];
    const { result } = await capturingErrors(() =>
      handlerWith(async (body) => void processed.push(body))({
        Records: [record("g", { n: 1 }), record("g", "oops"), record("g", { n: 3 })],
      }),
    );
    assert.deepEqual(result, { batchItemFailures: [] });
    assert.deepEqual(processed, [{ n: 1 }, { n: 3 }]);
  });

  it("reports a malformed record failed when the dead-letter queue cannot take it, so SQS keeps it", async () => {
    sqs.on(SendMessageCommand).rejects(new Error("AccessDenied"));
    const malformed = record("g", "oops");
    const later = record("g", { n: 2 });
    const { result } = await capturingErrors(() => handlerWith(async () => {})({ Records: [malformed, later] }));
    assert.deepEqual(failedIds(result), [malformed.messageId, later.messageId].sort());
  });

  it("reports a malformed record failed when the dead-letter queue URL is missing", async () => {
    delete process.env[DEAD_LETTER_QUEUE_URL_ENV];
    const malformed = record("g", "oops");
    const { result, lines } = await capturingErrors(() => handlerWith(async () => {})({ Records: [malformed] }));
    assert.deepEqual(failedIds(result), [malformed.messageId]);
    assert.match(String(loggedObject(lines[0]).error), /FIFO_INGESTER_DLQ_URL is not set/);
  });

  it("never dead-letters a body in raw mode for not being JSON", async () => {
    await handlerWith(async () => {}, { body: "raw" })({ Records: [record("g", "oops")] });
    assert.equal(sqs.commandCalls(SendMessageCommand).length, 0);
  });

  it("sends a record the callback rejects with RejectMessage to the dead-letter queue at once, with the reason, and goes on with its group", async () => {
    const rejected = record("listing-4", { id: "listing-4", price: "free" }, 1);
    const later = record("listing-4", { id: "listing-4", price: 5 }, 1);
    const processed: unknown[] = [];
    const { result } = await capturingErrors(() =>
      handlerWith(async (listing: any) => {
        if (typeof listing.price !== "number") throw new RejectMessage("price is not a number");
        processed.push(listing);
      })({ Records: [rejected, later] }),
    );
    assert.deepEqual(result, { batchItemFailures: [] }, "reported processed: SQS does not deliver it again");
    assert.deepEqual(processed, [{ id: "listing-4", price: 5 }]);
    const sent = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].QueueUrl, DLQ_URL);
    assert.equal(sent[0].MessageBody, rejected.body);
    assert.equal(sent[0].MessageGroupId, "listing-4");
    assert.equal(
      sent[0].MessageAttributes?.DeadLetterReason?.StringValue,
      "rejected by the handler: price is not a number",
    );
  });

  it("dead-letters a record rejected in raw mode too", async () => {
    const rejected = record("g", "<xml/>");
    const { result } = await capturingErrors(() =>
      handlerWith(
        async () => {
          throw new RejectMessage("not a listing");
        },
        { body: "raw" },
      )({ Records: [rejected] }),
    );
    assert.deepEqual(result, { batchItemFailures: [] });
    assert.equal(sqs.commandCalls(SendMessageCommand)[0].args[0].input.MessageBody, "<xml/>");
  });

  it("recognises a RejectMessage by its name, so a copy of the class bundled from the user's import counts too", async () => {
    const copy = Object.assign(new Error("no such listing"), { name: "RejectMessage" });
    const { result } = await capturingErrors(() =>
      handlerWith(async () => {
        throw copy;
      })({ Records: [record("g", { n: 1 })] }),
    );
    assert.deepEqual(result, { batchItemFailures: [] });
    assert.equal(sqs.commandCalls(SendMessageCommand).length, 1);
  });

  it("still retries any other error (reports the record failed, sends nothing)", async () => {
    const input = record("g", { n: 1 });
    const { result } = await capturingErrors(() =>
      handlerWith(async () => {
        throw new TypeError("listing.price is undefined");
      })({ Records: [input] }),
    );
    assert.deepEqual(failedIds(result), [input.messageId]);
    assert.equal(sqs.commandCalls(SendMessageCommand).length, 0);
  });

  it("rejects an event that is not an SQS batch", async () => {
    await assert.rejects(handlerWith(async () => {})({} as never), /the event has no Records array/);
  });
});
