/**
 * The producer and consumer artifacts the component actually builds, each in a fresh process from an
 * empty folder, against fauxqs (SQS), loopback S3/Secrets Manager stand-ins, and a messaging API that
 * answers 429 for a while.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { installMocks, resolve } from "../../../testing/mocks";

installMocks();

import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Artifact } from "../../../components/core/artifact";
import { ScheduledNotifier } from "../../../components/scheduled-notifier";
import { type Fauxqs, useFauxqs } from "../../../testing/emulators";
import {
  deliveryReport,
  directoryRecipients,
  type MessagingApi,
  type MessagingApiOptions,
  recipientAt,
  sendThroughMessagingApi,
  startMessagingApi,
} from "../../harness/fakes/messaging-api";
import { type NotifierRig, startNotifierRig } from "../../harness/rigs/notifier";

const TOKEN = "e2e-token";
const MAX_RECEIVE_COUNT = 4;
const CONCURRENCY = 3;
const SCHEDULED_TIME = "2025-03-25T09:00:00Z";

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => recipientAt(i + 1));
}

describe("the built ScheduledNotifier artifacts on fauxqs", () => {
  let fauxqs: Fauxqs;
  let artifacts: { producer: Artifact; consumer: Artifact };

  before(async () => {
    fauxqs = await useFauxqs();
    const notifier = new ScheduledNotifier("e2e", {
      schedule: "cron(0 9 * * ? *)",
      recipients: directoryRecipients,
      send: sendThroughMessagingApi,
      apiToken: { value: TOKEN },
      maxDeliveryCount: MAX_RECEIVE_COUNT,
      maxConcurrency: CONCURRENCY,
    });
    artifacts = {
      producer: await resolve(notifier.producer.artifact),
      consumer: await resolve(notifier.consumer.artifact),
    };
  });
  after(async () => fauxqs.stop());

  /** Runs `body` with a fresh API and rig; always stops both. */
  async function withRig(api: MessagingApiOptions, body: (rig: NotifierRig, api: MessagingApi) => Promise<void>) {
    const messagingApi = await startMessagingApi(api);
    const rig = await startNotifierRig({
      fauxqs,
      artifacts,
      api: messagingApi,
      token: TOKEN,
      maxReceiveCount: MAX_RECEIVE_COUNT,
      prefix: "e2e",
    });
    try {
      await body(rig, messagingApi);
    } finally {
      await rig.stop();
      await messagingApi.stop();
    }
  }

  it("notifies every recipient exactly once and loses none while the API answers 429 for a while", async () => {
    await withRig({ recipients: 120, token: TOKEN, rateLimitedForMs: 1000, retryAfterSeconds: 1 }, async (rig, api) => {
      const produced = await rig.runProducer(SCHEDULED_TIME);
      assert.equal(produced.error, undefined, JSON.stringify(produced.error));
      assert.deepEqual(produced.result, { runId: SCHEDULED_TIME, enqueued: 120, deadLettered: 0 });
      await rig.drain(CONCURRENCY);
      assert.ok(api.rateLimited() > 0, "the API rate-limited some sends");
      assert.deepEqual(deliveryReport(api, SCHEDULED_TIME, ids(120)), { once: 120, twice: 0, missing: 0 });
      assert.deepEqual(await rig.deadLetters(), []);
      assert.equal(api.unauthorized(), 0);
    });
  });

  it("keeps API calls in flight within the event source's concurrency, one send at a time per consumer", async () => {
    await withRig({ recipients: 60, token: TOKEN }, async (rig, api) => {
      await rig.runProducer(SCHEDULED_TIME);
      await rig.drain(CONCURRENCY);
      assert.ok(api.peakConcurrency() <= CONCURRENCY, `peak ${api.peakConcurrency()}`);
      assert.equal(api.deliveries.size, 60);
    });
  });

  it("lets a rate-limited job wait for the Retry-After before calling the API again, never retrying at once", async () => {
    // Retry-After 2 s is longer than the 1 s visibility the event source stand-in gives each receive,
    // so only the consumer's ChangeMessageVisibility can keep a job away that long.
    await withRig({ recipients: 40, token: TOKEN, rateLimitedForMs: 2500, retryAfterSeconds: 2 }, async (rig, api) => {
      await rig.runProducer(SCHEDULED_TIME);
      await rig.drain(CONCURRENCY);
      assert.ok(api.rateLimited() > 0);
      const gapsAfter429 = [...api.calls.values()].flatMap((calls) =>
        calls.slice(1).flatMap((call, i) => (calls[i].status === 429 ? [call.at - calls[i].at] : [])),
      );
      assert.ok(gapsAfter429.length > 0);
      // Allow for the test host's timer granularity.
      assert.ok(Math.min(...gapsAfter429) >= 1950, `a job was retried ${Math.min(...gapsAfter429)} ms after a 429`);
      assert.deepEqual(deliveryReport(api, SCHEDULED_TIME, ids(40)), { once: 40, twice: 0, missing: 0 });
    });
  });

  it("notifies nobody twice when a run is retried, whether the retry overlaps the run or comes after it", async () => {
    await withRig({ recipients: 80, token: TOKEN }, async (rig, api) => {
      const [first, overlapping] = await Promise.all([
        rig.runProducer(SCHEDULED_TIME),
        rig.runProducer(SCHEDULED_TIME),
      ]);
      assert.equal(first.error, undefined);
      assert.equal(overlapping.error, undefined);
      await rig.drain(CONCURRENCY);
      const delivered = api.deliveries.size;
      const later = await rig.runProducer(SCHEDULED_TIME);
      assert.deepEqual(later.result, { runId: SCHEDULED_TIME, enqueued: 80, deadLettered: 0 });
      const redrained = await rig.drain(CONCURRENCY);
      assert.ok(redrained.records >= 80, "the retried run's jobs were consumed");
      assert.equal(api.deliveries.size, delivered, "no new notification");
      assert.deepEqual(deliveryReport(api, SCHEDULED_TIME, ids(80)), { once: 80, twice: 0, missing: 0 });
    });
  });

  it("notifies everyone again in the next scheduled run", async () => {
    await withRig({ recipients: 20, token: TOKEN }, async (rig, api) => {
      await rig.runProducer(SCHEDULED_TIME);
      await rig.runProducer("2025-03-26T09:00:00Z");
      await rig.drain(CONCURRENCY);
      assert.deepEqual(deliveryReport(api, SCHEDULED_TIME, ids(20)), { once: 20, twice: 0, missing: 0 });
      assert.deepEqual(deliveryReport(api, "2025-03-26T09:00:00Z", ids(20)), { once: 20, twice: 0, missing: 0 });
    });
  });

  it("dead-letters a job the API keeps refusing after maxReceiveCount receives, with the reason", async () => {
    const refused = recipientAt(5);
    await withRig({ recipients: 10, token: TOKEN, refused: [refused] }, async (rig, api) => {
      await rig.runProducer(SCHEDULED_TIME);
      await rig.drain(CONCURRENCY);
      const deadLetters = await rig.deadLetters();
      assert.equal(deadLetters.length, 1);
      assert.equal(JSON.parse(deadLetters[0].Body ?? "").recipient.id, refused);
      assert.equal(
        deadLetters[0].MessageAttributes?.reason?.StringValue,
        `send failed: Error: the messaging API answered 400: {"error":"recipient ${refused} is blocked"} (receive 4 of 4)`,
      );
      assert.equal(api.refusals(), MAX_RECEIVE_COUNT);
      assert.deepEqual(
        deliveryReport(
          api,
          SCHEDULED_TIME,
          ids(10).filter((id) => id !== refused),
        ),
        { once: 9, twice: 0, missing: 0 },
      );
    });
  });

  it("dead-letters a message that is not a job at once, with the reason, without calling the API", async () => {
    await withRig({ recipients: 0, token: TOKEN }, async (rig, api) => {
      await rig.sqs.send(new SendMessageCommand({ QueueUrl: rig.jobsQueueUrl, MessageBody: "hello" }));
      const drained = await rig.drain(1);
      assert.equal(drained.records, 1);
      const [deadLetter] = await rig.deadLetters();
      assert.equal(deadLetter.Body, "hello");
      assert.match(deadLetter.MessageAttributes?.reason?.StringValue ?? "", /^the message is not JSON/);
      assert.equal(api.deliveries.size, 0);
    });
  });

  it("reads the API token from Secrets Manager at run time and keeps it cached across batches", async () => {
    await withRig({ recipients: 50, token: TOKEN }, async (rig, api) => {
      await rig.runProducer(SCHEDULED_TIME);
      // One consumer instance at a time: each instance reads the token once, then uses its cache.
      const drained = await rig.drain(1);
      assert.ok(drained.batches >= 5);
      assert.equal(rig.aws.secretReads(), 1);
      assert.equal(api.unauthorized(), 0);
      assert.equal(api.deliveries.size, 50);
    });
  });
});
