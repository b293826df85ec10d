import * as assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  ChangeMessageVisibilityBatchCommand,
  type ChangeMessageVisibilityBatchCommandInput,
  SendMessageCommand,
  type SendMessageCommandInput,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { type JobMessage, NOTIFIER_ENV, type SendContext } from "../../../runtime/scheduled-notifier/contract";
import { createConsumer, type JobRecord } from "../../../runtime/scheduled-notifier/consumer";
import {
  deferralSeconds,
  isRateLimitedError,
  MAX_VISIBILITY_SECONDS,
  RateLimitedError,
} from "../../../runtime/scheduled-notifier/errors";
import { type DeliveryLedger, S3DeliveryLedger } from "../../../runtime/scheduled-notifier/ledger";
import { type FakeAwsServices, startFakeAwsServices } from "../../../testing/fakes/s3-secrets-manager";
import { fakeAwsFor } from "../../harness/rigs/notifier";

const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token-AbCdEf";
const JOBS_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs";
const DEAD_LETTERS_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters";
const RUN = { id: "2025-03-25T09:00:00Z", scheduledTime: "2025-03-25T09:00:00Z" };
const context = { getRemainingTimeInMillis: () => 30_000 };

const sqsMock = mockClient(SQSClient);
const secretsMock = mockClient(SecretsManagerClient);

function job(recipientId: string): JobMessage {
  return { v: 1, idempotencyKey: `${RUN.id}:${recipientId}`, run: RUN, recipient: { id: recipientId } };
}

function record(body: string, receiveCount = 1, messageId = `m-${Math.random().toString(16).slice(2)}`): JobRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  };
}

function jobRecord(recipientId: string, receiveCount = 1): JobRecord {
  return record(JSON.stringify(job(recipientId)), receiveCount, `m-${recipientId}`);
}

function deadLetters(): SendMessageCommandInput[] {
  return sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input as SendMessageCommandInput);
}

function deferrals(): ChangeMessageVisibilityBatchCommandInput[] {
  return sqsMock
    .commandCalls(ChangeMessageVisibilityBatchCommand)
    .map((call) => call.args[0].input as ChangeMessageVisibilityBatchCommandInput);
}

describe("the ScheduledNotifier consumer", () => {
  let s3: FakeAwsServices;
  let s3Client: S3Client;
  let ledger: S3DeliveryLedger;

  before(async () => {
    s3 = await startFakeAwsServices(fakeAwsFor("ledger"));
    s3Client = new S3Client({
      endpoint: s3.url,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  });
  after(async () => {
    s3Client.destroy();
    await s3.stop();
  });
  beforeEach(() => {
    s3.objects.clear();
    ledger = new S3DeliveryLedger(s3Client, "ledger");
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: "dead-letter" });
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    secretsMock.reset();
    secretsMock.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretString: "t0ken" });
    process.env[NOTIFIER_ENV.secretArn] = SECRET_ARN;
    process.env[NOTIFIER_ENV.jobsQueueUrl] = JOBS_URL;
    process.env[NOTIFIER_ENV.deadLetterQueueUrl] = DEAD_LETTERS_URL;
  });
  afterEach(() => {
    for (const name of Object.values(NOTIFIER_ENV)) delete process.env[name];
  });

  /** A consumer with a fresh secret cache, the real S3 ledger on the fake S3, and the mocked SQS. */
  function consumer(send: (recipient: { id: string | number }, context: SendContext) => Promise<void>, options = {}) {
    return createConsumer({ send }, { maxReceiveCount: 5, secretCacheSeconds: 300, ...options }, { ledger });
  }

  it("calls send with the recipient, the token, the run, the idempotency key and the attempt", async () => {
    const calls: unknown[] = [];
    const { handler } = consumer(async (recipient, sendContext) => {
      calls.push([recipient, sendContext]);
    });
    const response = await handler({ Records: [jobRecord("user-1", 2)] }, context);
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.deepEqual(calls, [
      [{ id: "user-1" }, { secret: "t0ken", run: RUN, idempotencyKey: `${RUN.id}:user-1`, attempt: 2 }],
    ]);
  });

  it("reads the token from Secrets Manager by its ARN only once while it is cached", async () => {
    const { handler } = consumer(async () => {});
    await handler({ Records: [jobRecord("user-1"), jobRecord("user-2")] }, context);
    await handler({ Records: [jobRecord("user-3")] }, context);
    const reads = secretsMock.commandCalls(GetSecretValueCommand);
    assert.equal(reads.length, 1);
    assert.equal(reads[0].args[0].input.SecretId, SECRET_ARN);
  });

  it("reads the token again once the cache's maxAge has passed, so a rotated token is picked up", async () => {
    const tokens: string[] = [];
    const { handler } = consumer(
      async (_recipient, sendContext) => {
        tokens.push(sendContext.secret);
      },
      { secretCacheSeconds: 1 },
    );
    await handler({ Records: [jobRecord("user-1")] }, context);
    secretsMock.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretString: "r0tated" });
    await handler({ Records: [jobRecord("user-2")] }, context);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await handler({ Records: [jobRecord("user-3")] }, context);
    assert.deepEqual(tokens, ["t0ken", "t0ken", "r0tated"]);
    assert.equal(secretsMock.commandCalls(GetSecretValueCommand).length, 2);
  });

  it("skips a job whose key was already sent, without calling send", async () => {
    let sends = 0;
    const { handler } = consumer(async () => {
      sends++;
    });
    await handler({ Records: [jobRecord("user-1")] }, context);
    const duplicate = await handler({ Records: [jobRecord("user-1")] }, context);
    assert.equal(sends, 1);
    assert.deepEqual(duplicate, { batchItemFailures: [] });
  });

  it("hides a rate-limited job for the retry-after and reports it failed, and defers the rest of the batch without calling the API", async () => {
    const attempted: unknown[] = [];
    const { handler } = consumer(async (recipient) => {
      attempted.push(recipient.id);
      throw new RateLimitedError(30);
    });
    const records = [jobRecord("user-1"), jobRecord("user-2"), jobRecord("user-3")];
    const response = await handler({ Records: records }, context);
    assert.deepEqual(attempted, ["user-1"]);
    assert.deepEqual(response, {
      batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })),
    });
    const [change] = deferrals();
    assert.equal(change.QueueUrl, JOBS_URL);
    assert.deepEqual(
      change.Entries?.map((e) => e.ReceiptHandle),
      records.map((r) => r.receiptHandle),
    );
    assert.equal(change.Entries?.[0].VisibilityTimeout, 30);
    for (const entry of change.Entries?.slice(1) ?? []) {
      assert.ok(
        (entry.VisibilityTimeout ?? 0) >= 29 && (entry.VisibilityTimeout ?? 0) <= 30,
        `${entry.VisibilityTimeout}`,
      );
    }
  });

  it("releases a rate-limited job's claim, so its retry can send it", async () => {
    let rateLimited = true;
    const { handler } = consumer(async () => {
      if (rateLimited) throw new RateLimitedError(1);
    });
    await handler({ Records: [jobRecord("user-1")] }, context);
    rateLimited = false;
    const retry = await handler({ Records: [jobRecord("user-1", 2)] }, context);
    assert.deepEqual(retry, { batchItemFailures: [] });
    assert.deepEqual(await ledger.claim(`${RUN.id}:user-1`, 60), {
      outcome: "already-sent",
      sentAt: (JSON.parse([...s3.objects.values()][0].body) as { sentAt: string }).sentAt,
    });
  });

  it("recognizes a rate-limit error by its shape, as a callback's captured copy of the class has it", async () => {
    const { handler } = consumer(async () => {
      throw { name: "RateLimitedError", retryAfterSeconds: 7, message: "from a copy" };
    });
    await handler({ Records: [jobRecord("user-1")] }, context);
    assert.equal(deferrals()[0].Entries?.[0].VisibilityTimeout, 7);
  });

  it("reports any other failed send as failed, without changing its visibility, and releases its claim", async () => {
    const { handler } = consumer(async () => {
      throw new Error("the API answered 500");
    });
    const response = await handler({ Records: [jobRecord("user-1")] }, context);
    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: "m-user-1" }] });
    assert.deepEqual(deferrals(), []);
    assert.equal((await ledger.claim(`${RUN.id}:user-1`, 60)).outcome, "claimed");
  });

  it("dead-letters a job that fails on its last allowed receive, with the reason, instead of reporting it failed", async () => {
    const { handler } = consumer(async () => {
      throw new Error("the API answered 400: blocked");
    });
    const response = await handler({ Records: [jobRecord("user-1", 5)] }, context);
    assert.deepEqual(response, { batchItemFailures: [] });
    const [deadLetter] = deadLetters();
    assert.equal(deadLetter.QueueUrl, DEAD_LETTERS_URL);
    assert.equal(deadLetter.MessageBody, JSON.stringify(job("user-1")));
    assert.deepEqual(deadLetter.MessageAttributes, {
      reason: { DataType: "String", StringValue: "send failed: Error: the API answered 400: blocked (receive 5 of 5)" },
      sourceMessageId: { DataType: "String", StringValue: "m-user-1" },
      receiveCount: { DataType: "Number", StringValue: "5" },
    });
  });

  it("dead-letters a job rate-limited on its last allowed receive, with the reason", async () => {
    const { handler } = consumer(async () => {
      throw new RateLimitedError(60);
    });
    await handler({ Records: [jobRecord("user-1", 5)] }, context);
    assert.equal(
      deadLetters()[0].MessageAttributes?.reason?.StringValue,
      "rate limited; retry after 60 s (receive 5 of 5)",
    );
    assert.deepEqual(deferrals(), []);
  });

  it("dead-letters a job whose earlier attempt never recorded its outcome, without calling send", async () => {
    await ledger.claim(`${RUN.id}:user-1`, 0);
    let sends = 0;
    const { handler } = consumer(async () => {
      sends++;
    });
    const response = await handler({ Records: [jobRecord("user-1", 2)] }, context);
    assert.equal(sends, 0);
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.match(
      deadLetters()[0].MessageAttributes?.reason?.StringValue ?? "",
      /^an attempt started at .* and never recorded its outcome .*not resent, so nobody is notified twice/,
    );
  });

  it("retries later, without calling send, a job another attempt is sending right now", async () => {
    await ledger.claim(`${RUN.id}:user-1`, 60);
    let sends = 0;
    const { handler } = consumer(async () => {
      sends++;
    });
    const response = await handler({ Records: [jobRecord("user-1", 2)] }, context);
    assert.equal(sends, 0);
    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: "m-user-1" }] });
  });

  it("dead-letters a message that is not a job at once, on its first receive, with the reason", async () => {
    const { handler } = consumer(async () => {});
    const response = await handler({ Records: [record("hello", 1, "m-garbage")] }, context);
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(deadLetters()[0].MessageBody, "hello");
    assert.match(deadLetters()[0].MessageAttributes?.reason?.StringValue ?? "", /^the message is not JSON/);
  });

  it("dead-letters JSON that is not a job message, with the expected shape in the reason", async () => {
    const { handler } = consumer(async () => {});
    await handler({ Records: [record(JSON.stringify({ to: "x" }))] }, context);
    assert.equal(
      deadLetters()[0].MessageAttributes?.reason?.StringValue,
      "the message is not a ScheduledNotifier job (expected {v: 1, idempotencyKey, run: {id}, recipient})",
    );
  });

  it("dead-letters on the last receive when the secret holds no text, naming the secret", async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretBinary: new Uint8Array([1]) });
    const { handler } = consumer(async () => {});
    await handler({ Records: [jobRecord("user-1", 5)] }, context);
    assert.equal(
      deadLetters()[0].MessageAttributes?.reason?.StringValue,
      `Error: the secret ${SECRET_ARN} has no SecretString; store the token as text (receive 5 of 5)`,
    );
  });

  it("does not fail a job whose send succeeded when the ledger cannot record it", async () => {
    const failingLedger: DeliveryLedger = {
      claim: (key, lease) => ledger.claim(key, lease),
      release: (claim) => ledger.release(claim),
      markSent: async () => {
        throw new Error("S3 is down");
      },
    };
    let sends = 0;
    const { handler } = createConsumer(
      {
        send: async () => {
          sends++;
        },
      },
      { maxReceiveCount: 5, secretCacheSeconds: 300 },
      { ledger: failingLedger },
    );
    const response = await handler({ Records: [jobRecord("user-1")] }, context);
    assert.equal(sends, 1);
    assert.deepEqual(response, { batchItemFailures: [] });
  });
});

describe("rate-limit errors", () => {
  it("are recognized whether thrown as the class or as an object of the same shape", () => {
    assert.equal(isRateLimitedError(new RateLimitedError(3)), true);
    assert.equal(isRateLimitedError({ name: "RateLimitedError", retryAfterSeconds: 3 }), true);
    assert.equal(isRateLimitedError(new Error("rate limited")), false);
    assert.equal(isRateLimitedError({ name: "RateLimitedError", retryAfterSeconds: Number.NaN }), false);
  });

  it("defer a job for at least a second and at most SQS's 12 hours, in whole seconds", () => {
    assert.deepEqual([0, 0.2, 1.5, 60, 1e9].map(deferralSeconds), [1, 1, 2, 60, MAX_VISIBILITY_SECONDS]);
  });
});
