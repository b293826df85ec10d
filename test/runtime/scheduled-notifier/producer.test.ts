import * as assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SendMessageCommand,
  type SendMessageCommandInput,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { type JobMessage, NOTIFIER_ENV, type NotificationRun } from "../../../runtime/scheduled-notifier/contract";
import {
  BATCH_SIZE,
  createProducer,
  MAX_BATCH_BYTES,
  MAX_BATCHES_IN_FLIGHT,
  MAX_JOB_BYTES,
  MAX_SEND_ATTEMPTS,
  runFromEvent,
} from "../../../runtime/scheduled-notifier/producer";

const JOBS_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs";
const DEAD_LETTERS_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters";
const SCHEDULED = { scheduledTime: "2025-03-25T09:00:00Z", attemptNumber: "1" };

const sqsMock = mockClient(SQSClient);

function recipientsOf(count: number) {
  return async function* () {
    for (let i = 1; i <= count; i++) yield { id: `user-${i}` };
  };
}

/** Every job body sent to the jobs queue, in order. */
function sentJobs(): JobMessage[] {
  return sqsMock
    .commandCalls(SendMessageBatchCommand)
    .flatMap((call) => (call.args[0].input as SendMessageBatchCommandInput).Entries ?? [])
    .map((entry) => JSON.parse(entry.MessageBody ?? "") as JobMessage);
}

function deadLetterCalls(): SendMessageCommandInput[] {
  return sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input as SendMessageCommandInput);
}

/** Answers SendMessageBatch with every entry successful. */
function acceptAll(input: SendMessageBatchCommandInput) {
  return { Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })), Failed: [] };
}

describe("the ScheduledNotifier producer", () => {
  beforeEach(() => {
    sqsMock.reset();
    process.env[NOTIFIER_ENV.jobsQueueUrl] = JOBS_URL;
    process.env[NOTIFIER_ENV.deadLetterQueueUrl] = DEAD_LETTERS_URL;
  });
  afterEach(() => {
    delete process.env[NOTIFIER_ENV.jobsQueueUrl];
    delete process.env[NOTIFIER_ENV.deadLetterQueueUrl];
  });

  it("sends one job per recipient in batches of ten to the jobs queue", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    const { handler } = createProducer({ recipients: recipientsOf(25) });
    const summary = await handler(SCHEDULED);
    const batches = sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    assert.deepEqual(
      batches.map((b) => b.Entries?.length),
      [10, 10, 5],
    );
    assert.ok(batches.every((b) => b.QueueUrl === JOBS_URL));
    assert.deepEqual(summary, { runId: "2025-03-25T09:00:00Z", enqueued: 25, deadLettered: 0 });
  });

  it("keys each job by run and recipient, so the same recipient in the same run always has the same key", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    const { handler } = createProducer({ recipients: recipientsOf(2) });
    await handler(SCHEDULED);
    await handler({ ...SCHEDULED, attemptNumber: "2" });
    const jobs = sentJobs();
    assert.deepEqual(
      jobs.map((job) => job.idempotencyKey),
      [
        "2025-03-25T09:00:00Z:user-1",
        "2025-03-25T09:00:00Z:user-2",
        "2025-03-25T09:00:00Z:user-1",
        "2025-03-25T09:00:00Z:user-2",
      ],
    );
    assert.deepEqual(jobs[0], {
      v: 1,
      idempotencyKey: "2025-03-25T09:00:00Z:user-1",
      run: { id: "2025-03-25T09:00:00Z", scheduledTime: "2025-03-25T09:00:00Z" },
      recipient: { id: "user-1" },
    });
  });

  it("passes the run to the recipients callback", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    const seen: NotificationRun[] = [];
    const { handler } = createProducer({
      recipients: async function* (run) {
        seen.push(run);
        yield { id: 1 };
      },
    });
    await handler({ runId: "backfill-2025-03-24" });
    assert.deepEqual(seen, [{ id: "backfill-2025-03-24" }]);
  });

  it("resends only the entries of a batch that failed", async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFakeOnce((input: SendMessageBatchCommandInput) => ({
        Successful: (input.Entries ?? []).slice(2).map((e) => ({ Id: e.Id, MessageId: "m" })),
        Failed: (input.Entries ?? []).slice(0, 2).map((e) => ({ Id: e.Id, Code: "InternalError", SenderFault: false })),
      }))
      .callsFake(acceptAll);
    const { handler } = createProducer({ recipients: recipientsOf(10) }, { resendDelayMs: 1 });
    const summary = await handler(SCHEDULED);
    const batches = sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    assert.equal(batches.length, 2);
    assert.deepEqual(
      batches[1].Entries?.map((e) => (JSON.parse(e.MessageBody ?? "") as JobMessage).recipient.id),
      ["user-1", "user-2"],
    );
    assert.equal(summary.enqueued, 10);
  });

  it("fails the run, naming the jobs, when entries are still unsent after the last attempt", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).filter((e) => e.Id !== "3").map((e) => ({ Id: e.Id, MessageId: "m" })),
      Failed: (input.Entries ?? [])
        .filter((e) => e.Id === "3")
        .map((e) => ({ Id: e.Id, Code: "ServiceUnavailable", SenderFault: false })),
    }));
    const { handler } = createProducer({ recipients: recipientsOf(10) }, { resendDelayMs: 1 });
    await assert.rejects(
      handler(SCHEDULED),
      new Error(
        `1 jobs of run 2025-03-25T09:00:00Z could not be enqueued after ${MAX_SEND_ATTEMPTS} attempts, ` +
          "e.g. 2025-03-25T09:00:00Z:user-4 (SQS rejected the job: ServiceUnavailable). " +
          "The run fails so it is retried; recipients already enqueued are not notified twice.",
      ),
    );
    assert.equal(sqsMock.commandCalls(SendMessageBatchCommand).length, MAX_SEND_ATTEMPTS);
  });

  it("fails the run when SQS refuses whole batches even after the SDK's own retries", async () => {
    sqsMock.on(SendMessageBatchCommand).rejects(new Error("connect ECONNREFUSED"));
    const { handler } = createProducer({ recipients: recipientsOf(3) }, { resendDelayMs: 1 });
    await assert.rejects(handler(SCHEDULED), /^Error: 3 jobs of run .* could not be enqueued .*ECONNREFUSED/);
  });

  it("dead-letters an entry SQS rejects as the sender's fault, with the reason, without resending it", async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: "dl" });
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).slice(1).map((e) => ({ Id: e.Id, MessageId: "m" })),
      Failed: [{ Id: "0", Code: "InvalidMessageContents", Message: "bad characters", SenderFault: true }],
    }));
    const { handler } = createProducer({ recipients: recipientsOf(3) }, { resendDelayMs: 1 });
    const summary = await handler(SCHEDULED);
    assert.equal(sqsMock.commandCalls(SendMessageBatchCommand).length, 1);
    const [deadLetter] = deadLetterCalls();
    assert.equal(deadLetter.QueueUrl, DEAD_LETTERS_URL);
    assert.equal((JSON.parse(deadLetter.MessageBody ?? "") as JobMessage).recipient.id, "user-1");
    assert.equal(
      deadLetter.MessageAttributes?.reason?.StringValue,
      "SQS rejected the job: InvalidMessageContents (bad characters)",
    );
    assert.deepEqual(summary, { runId: "2025-03-25T09:00:00Z", enqueued: 2, deadLettered: 1 });
  });

  it("dead-letters a recipient without an id, with the reason, and enqueues the others", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    sqsMock.on(SendMessageCommand).resolves({ MessageId: "dl" });
    const { handler } = createProducer({
      recipients: async function* () {
        yield { id: "a" };
        yield { name: "no id" } as never;
        yield { id: "b" };
      },
    });
    const summary = await handler(SCHEDULED);
    assert.deepEqual(
      sentJobs().map((job) => job.recipient.id),
      ["a", "b"],
    );
    const [deadLetter] = deadLetterCalls();
    assert.equal(
      deadLetter.MessageAttributes?.reason?.StringValue,
      "a recipient must be an object with a non-empty string or finite number `id`",
    );
    assert.deepEqual(JSON.parse(deadLetter.MessageBody ?? ""), {
      rejectedBy: "producer",
      reason: "a recipient must be an object with a non-empty string or finite number `id`",
      run: { id: "2025-03-25T09:00:00Z", scheduledTime: "2025-03-25T09:00:00Z" },
      recipient: '{"name":"no id"}',
    });
    assert.equal(summary.deadLettered, 1);
  });

  it("dead-letters a recipient whose job would exceed the job size limit, keeping only its start", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    sqsMock.on(SendMessageCommand).resolves({ MessageId: "dl" });
    const { handler } = createProducer({
      recipients: async function* () {
        yield { id: "huge", notes: "x".repeat(MAX_JOB_BYTES) };
      },
    });
    await handler(SCHEDULED);
    const [deadLetter] = deadLetterCalls();
    assert.match(
      deadLetter.MessageAttributes?.reason?.StringValue ?? "",
      /^the job is \d+ bytes; the notifier limits a job to 262144 bytes$/,
    );
    assert.ok((deadLetter.MessageBody ?? "").length < 5000);
    assert.equal(sqsMock.commandCalls(SendMessageBatchCommand).length, 0);
  });

  it("starts a new batch before large jobs would exceed SQS's total batch size", async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => {
      const bytes = (input.Entries ?? []).reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? ""), 0);
      if (bytes > MAX_BATCH_BYTES) {
        throw Object.assign(new Error("Batch requests cannot be longer than 262144 bytes"), {
          name: "BatchRequestTooLong",
        });
      }
      return acceptAll(input);
    });
    const { handler } = createProducer({
      recipients: async function* () {
        for (let i = 1; i <= 10; i++) yield { id: `user-${i}`, notes: "x".repeat(100_000) };
      },
    });
    const summary = await handler(SCHEDULED);
    assert.equal(summary.enqueued, 10);
    assert.deepEqual(
      sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries?.length),
      [2, 2, 2, 2, 2],
    );
  });

  it("streams: never pulls more than a few batches ahead of what SQS has accepted", async () => {
    let yielded = 0;
    let accepted = 0;
    let furthestAhead = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      accepted += input.Entries?.length ?? 0;
      return acceptAll(input);
    });
    const { handler } = createProducer({
      recipients: async function* () {
        for (let i = 0; i < 5000; i++) {
          yielded++;
          furthestAhead = Math.max(furthestAhead, yielded - accepted);
          yield { id: i };
        }
      },
    });
    const summary = await handler(SCHEDULED);
    assert.equal(summary.enqueued, 5000);
    assert.ok(
      furthestAhead <= (MAX_BATCHES_IN_FLIGHT + 1) * BATCH_SIZE,
      `held ${furthestAhead} recipients not yet accepted at once`,
    );
  });

  it("waits for batches already handed to SQS when the recipients callback throws, then fails the run", async () => {
    let accepted = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      accepted += input.Entries?.length ?? 0;
      return acceptAll(input);
    });
    const { handler } = createProducer({
      recipients: async function* () {
        for (let i = 0; i < 20; i++) yield { id: i };
        throw new Error("the database went away");
      },
    });
    await assert.rejects(handler(SCHEDULED), /the database went away/);
    assert.equal(accepted, 20);
  });
});

describe("the run id", () => {
  it("is the scheduled time, the same on every attempt of a scheduled run", () => {
    assert.deepEqual(runFromEvent({ scheduledTime: "2025-03-25T09:00:00Z", attemptNumber: "3", executionId: "e" }), {
      id: "2025-03-25T09:00:00Z",
      scheduledTime: "2025-03-25T09:00:00Z",
    });
  });

  it("is the runId of a manual invocation", () => {
    assert.deepEqual(runFromEvent({ runId: "resend-2025-03-25" }), { id: "resend-2025-03-25" });
  });

  it("is required: an event without one is refused with how to invoke by hand", () => {
    assert.throws(
      () => runFromEvent({}),
      new Error(
        'the producer needs a run id: EventBridge Scheduler passes {"scheduledTime": ...}; ' +
          'invoke it by hand with {"runId": "<a unique name for this run>"}. Got {}.',
      ),
    );
  });

  it("refuses an unreplaced Scheduler placeholder", () => {
    assert.throws(() => runFromEvent({ scheduledTime: "<aws.scheduler.scheduled-time>" }), /needs a run id/);
  });
});
