/**
 * queue-patterns/testing on this repository's components, as a user's test would call it: each
 * component constructed under the testing mocks with its own callbacks, then exercised end to end.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { installTestingMocks } from "../../testing";

installTestingMocks();

import { FanOutIngest } from "../../components/fan-out-ingest";
import { FifoIngester } from "../../components/fifo-ingester";
import { ScheduledNotifier } from "../../components/scheduled-notifier";
import { RejectMessage } from "../../runtime/errors";
import {
  exerciseFanOutIngest,
  exerciseFifoIngester,
  exerciseScheduledNotifier,
  type Fauxqs,
  type FanOutIngestRun,
  type FifoIngesterRun,
  type ScheduledNotifierRun,
} from "../../testing";
import { startAzurite, useFauxqs } from "../../testing/emulators";
import type { Azurite } from "../../testing/emulators";

interface Listing {
  id: string;
  price: number;
}

describe("exerciseFifoIngester: the user's handler in the built artifact on fauxqs", () => {
  let fauxqs: Fauxqs;
  let run: FifoIngesterRun;
  before(async () => {
    fauxqs = await useFauxqs();
    const ingester = new FifoIngester<Listing>("listings", {
      handler: async (listing, meta) => {
        if (listing.price < 0) throw new Error(`negative price for ${listing.id}`);
        console.log(JSON.stringify({ indexed: listing.id, group: meta.groupId }));
      },
      maxDeliveryCount: 2,
    });
    run = await exerciseFifoIngester(
      ingester,
      [
        { groupId: "listing-1", body: { id: "listing-1", price: 10 } },
        { groupId: "listing-1", body: { id: "listing-1", price: 12 } },
        { groupId: "listing-2", body: { id: "listing-2", price: -1 } },
        { groupId: "listing-3", body: "not JSON" },
      ],
      { fauxqs },
    );
  });
  after(() => fauxqs?.stop());

  it("hands every record to the handler, each group in publishing order", () => {
    const processed = run.deliveries
      .filter((delivery) => delivery.outcome === "processed")
      .map((delivery) => delivery.body);
    assert.deepEqual(processed, [
      JSON.stringify({ id: "listing-1", price: 10 }),
      JSON.stringify({ id: "listing-1", price: 12 }),
    ]);
    assert.ok(
      run.invocations.some((invocation) =>
        invocation.logs.some((line) => line.includes('\\"indexed\\":\\"listing-1\\"')),
      ),
    );
  });

  it("retries a failing record up to maxDeliveryCount, then it is a dead letter with the handler's error", () => {
    const attempts = run.deliveries.filter((delivery) => delivery.groupId === "listing-2");
    assert.deepEqual(
      attempts.map((attempt) => [attempt.receiveCount, attempt.outcome]),
      [
        [1, "failed"],
        [2, "failed"],
      ],
    );
    assert.match(attempts[0].error ?? "", /negative price for listing-2/);
    const deadLetter = run.deadLetters.find((letter) => letter.groupId === "listing-2");
    assert.match(deadLetter?.reason ?? "", /negative price for listing-2/);
  });

  it("dead-letters a body that is not JSON at once, with the reason", () => {
    const [delivery] = run.deliveries.filter((attempt) => attempt.groupId === "listing-3");
    assert.equal(delivery.outcome, "dead-lettered");
    const deadLetter = run.deadLetters.find((letter) => letter.body === "not JSON");
    assert.match(deadLetter?.reason ?? "", /not valid JSON/);
    assert.equal(run.remaining, 0);
  });

  it("runs on the Node.js running the test, and says which major the artifact was built for", () => {
    assert.equal(run.node.version, process.version);
    assert.equal(run.node.declaredMajor, 24);
  });
});

describe("exerciseScheduledNotifier: the user's recipients and send in the built artifacts", () => {
  let fauxqs: Fauxqs;
  let run: ScheduledNotifierRun;
  const sentFile = `${fs.mkdtempSync("/tmp/qp-notifier-")}/sent.txt`;
  before(async () => {
    fauxqs = await useFauxqs();
    const notifier = new ScheduledNotifier<{ id: string; name: string }>("reminders", {
      schedule: "cron(0 9 ? * MON-FRI *)",
      apiToken: { value: "token-in-the-stack" },
      recipients: async function* () {
        yield { id: "r1", name: "Ada" };
        yield { id: "r2", name: "Grace" };
        yield { id: "blocked", name: "Nobody" };
      },
      send: async (recipient, context) => {
        if (recipient.id === "blocked") throw new Error("this recipient opted out");
        // Where a real `send` calls its messaging API; SENT_FILE comes from the test's environment.
        const fsModule = await import("node:fs");
        fsModule.appendFileSync(
          process.env.SENT_FILE as string,
          `${recipient.name} ${context.secret} ${context.idempotencyKey}\n`,
        );
      },
      maxDeliveryCount: 2,
    });
    run = await exerciseScheduledNotifier(
      notifier,
      { scheduledTime: "2026-03-02T09:00:00Z", secretValue: "local-token" },
      { fauxqs, environment: { SENT_FILE: sentFile } },
    );
  });
  after(() => fauxqs?.stop());

  it("enqueues one job per recipient the producer's callback yields", () => {
    assert.equal(run.producer.error, undefined, JSON.stringify(run.producer));
    assert.deepEqual((run.producer.result as { enqueued: number }).enqueued, 3);
    assert.deepEqual(run.jobs.map((job) => job.recipient.id).sort(), ["blocked", "r1", "r2"]);
  });

  it("sends through the user's callback with the secret and the idempotency key, once per recipient", () => {
    const lines = fs.readFileSync(sentFile, "utf8").trim().split("\n").sort();
    assert.deepEqual(lines, ["Ada local-token 2026-03-02T09:00:00Z:r1", "Grace local-token 2026-03-02T09:00:00Z:r2"]);
    assert.equal(run.sent, 2);
  });

  it("dead-letters a rejected recipient with its reason", () => {
    assert.equal(run.deadLetters.length, 1);
    assert.match(run.deadLetters[0].reason ?? "", /opted out/);
  });
});

describe("exerciseFanOutIngest: the user's source and toMessage in the built artifact on Azurite", () => {
  let azurite: Azurite;
  let run: FanOutIngestRun;
  before(async () => {
    // An Azurite of its own: every FanOutIngest's events queue has the same name in its storage
    // account, and the shared Azurite is one account that other test files run FanOutIngest on.
    azurite = await startAzurite();
    const ingest = new FanOutIngest<number>("numbers", {
      source: async function* () {
        for (let n = 1; n <= 12; n++) yield n;
      },
      toMessage: (n) => {
        if (n === 7) throw new RejectMessage("seven is not welcome");
        return JSON.stringify({ n });
      },
      chunkSize: 5,
      queueName: "numbers-testing",
      chunkContainerName: "numbers-testing-chunks",
    });
    run = await exerciseFanOutIngest(ingest, { runId: "run-1" }, { azurite });
  });
  after(() => azurite?.stop());

  it("chunks the source and ingests every chunk through the events the subscription lets through", () => {
    assert.equal(run.chunk.error, undefined, JSON.stringify(run.chunk));
    assert.equal(run.events.delivered.length, 3);
    assert.equal(run.ingestInvocations.filter((invocation) => !invocation.error).length, 3);
  });

  it("returns the messages toMessage produced in the target queue, and the rejected item in its poison queue", () => {
    const [queue] = Object.keys(run.messages);
    assert.deepEqual(
      run.messages[queue].map((text) => JSON.parse(text).n).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12],
    );
    const poisoned = Object.values(run.poisoned).flat();
    assert.equal(poisoned.length, 1);
    assert.match(poisoned[0], /seven is not welcome/);
  });
});
