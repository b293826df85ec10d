/**
 * DedupForwardingQueue against real Azure Service Bus (`npm run test:cloud`; not part of `npm test`).
 *
 * What no fake can prove: that a scheduled message deduplicated at send time in a processing queue
 * materializes there at its time and is THEN auto-forwarded into a session-enabled queue with its
 * SessionId (Service Bus documents scheduling and forwarding separately, not together); and that
 * the deployed Function App, holding "Azure Service Bus Data Owner" on its work queue, is woken by
 * the scale controller for a run waiting there (target-based scaling reads the queue's counts,
 * which needs Manage rights; with Data Receiver alone apps have been reported not to wake).
 *
 * Needs:
 * - SERVICEBUS_NAMESPACE: the namespace's host name (the stack's `producerConfig.fullyQualifiedNamespace`),
 *   e.g. `readings-1a2b3c4d.servicebus.windows.net`;
 * - an identity DefaultAzureCredential finds (`az login`, environment variables, managed identity) with
 *   "Azure Service Bus Data Owner" on the namespace: the test creates two temporary queues, uses them,
 *   and deletes them, so the deployed Function App never competes for its messages;
 * - optional DEDUP_PRODUCER_CONFIG: the stack's `producerConfig` output as JSON; the deployed queues'
 *   properties are then checked too, and one run for a `cloud-probe-<uuid>` data set is put into the
 *   deployed work queue: the stack's `process` callback runs for it, so use a development stack
 *   (for a scale-from-zero check, let the app idle a quarter of an hour first).
 * Without SERVICEBUS_NAMESPACE every test is skipped. A run takes about two minutes.
 */
import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DefaultAzureCredential } from "@azure/identity";
import { ServiceBusAdministrationClient, ServiceBusClient } from "@azure/service-bus";
import { isoDurationSeconds } from "../harness/iso-duration";
import {
  planProcessing,
  ProcessingScheduler,
  type ProcessingScheduleConfig,
} from "../../runtime/dedup-forwarding-queue/producer";

const namespaceSetting = process.env.SERVICEBUS_NAMESPACE;
const fullyQualifiedNamespace = namespaceSetting?.includes(".")
  ? namespaceSetting
  : `${namespaceSetting}.servicebus.windows.net`;
const skip = namespaceSetting
  ? false
  : "set SERVICEBUS_NAMESPACE to a deployed namespace (e.g. readings-1a2b3c4d.servicebus.windows.net) and sign in with Data Owner on it";
const PERIOD_SECONDS = 60;
const SCHEDULE_DELAY_SECONDS = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const queueNameOf = (forwardTo: string | undefined) => forwardTo?.split("/").filter(Boolean).at(-1)?.toLowerCase();

describe("DedupForwardingQueue on Azure Service Bus", { skip, timeout: 10 * 60_000 }, () => {
  const credential = new DefaultAzureCredential();
  const admin = new ServiceBusAdministrationClient(fullyQualifiedNamespace, credential);
  const client = new ServiceBusClient(fullyQualifiedNamespace, credential);
  const probe = `dedup-cloud-probe-${randomUUID().slice(0, 8)}`;
  const workQueue = `${probe}-work`;
  const processingQueue = `${probe}-processing`;

  before(async () => {
    await admin.createQueue(workQueue, {
      requiresSession: true,
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindow: "PT1M",
      maxDeliveryCount: 3,
      autoDeleteOnIdle: "PT1H",
    });
    await admin.createQueue(processingQueue, {
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindow: `PT${PERIOD_SECONDS + SCHEDULE_DELAY_SECONDS}S`,
      forwardTo: workQueue,
      autoDeleteOnIdle: "PT1H",
    });
  });

  after(async () => {
    await client.close();
    await Promise.allSettled([admin.deleteQueue(processingQueue), admin.deleteQueue(workQueue)]);
  });

  it("forwards exactly one scheduled message per data set and period into the session queue, with its SessionId", async () => {
    const config: ProcessingScheduleConfig = {
      timeZone: "UTC",
      scheduleDelaySeconds: SCHEDULE_DELAY_SECONDS,
      windows: { probe: { queueName: processingQueue, periodSeconds: PERIOD_SECONDS } },
    };
    // Start right after a minute boundary so every observation below falls in one period.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 5_000) await sleep(60_000 - intoMinute + 1_000);
    const scheduler = new ProcessingScheduler(client, config);
    const plans: Awaited<ReturnType<ProcessingScheduler["scheduleProcessing"]>>[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        for (const dataSetId of ["probe-a", "probe-b"]) {
          plans.push(await scheduler.scheduleProcessing({ dataSetId, observedAt: new Date(), window: "probe" }));
        }
        await sleep(2_000);
      }
    } finally {
      await scheduler.close();
    }
    const sessionIds = [...new Set(plans.map((plan) => plan.sessionId))];
    assert.equal(sessionIds.length, 2, `all observations fell in one period: ${sessionIds.join(", ")}`);

    const latest = Math.max(...plans.map((plan) => plan.scheduledEnqueueTime.getTime()));
    await sleep(Math.max(0, latest - Date.now()) + 20_000);

    for (const sessionId of sessionIds) {
      const receiver = await client.acceptSession(workQueue, sessionId);
      try {
        const messages = await receiver.receiveMessages(10, { maxWaitTimeInMs: 10_000 });
        assert.equal(messages.length, 1, `one message for session ${sessionId}`);
        assert.equal(messages[0].messageId, sessionId);
        assert.equal(messages[0].sessionId, sessionId);
        assert.ok(
          (messages[0].enqueuedTimeUtc?.getTime() ?? 0) >= latest - 1_000,
          "it arrived at its scheduled time, not before",
        );
        await receiver.completeMessage(messages[0]);
      } finally {
        await receiver.close();
      }
    }
    const deadLetters = client.createReceiver(processingQueue, { subQueueType: "deadLetter" });
    try {
      assert.deepEqual(await deadLetters.peekMessages(10), [], "the processing queue dead-lettered nothing");
    } finally {
      await deadLetters.close();
    }
  });

  it(
    "matches the deployed stack's queues to its producer configuration",
    {
      skip: process.env.DEDUP_PRODUCER_CONFIG
        ? false
        : "set DEDUP_PRODUCER_CONFIG to the stack's producerConfig output",
    },
    async () => {
      const deployed = JSON.parse(process.env.DEDUP_PRODUCER_CONFIG ?? "{}") as ProcessingScheduleConfig;
      const forwardTargets = new Set<string | undefined>();
      for (const [window, { queueName, periodSeconds }] of Object.entries(deployed.windows)) {
        const { requiresDuplicateDetection, requiresSession, duplicateDetectionHistoryTimeWindow, forwardTo } =
          await admin.getQueue(queueName);
        assert.equal(requiresDuplicateDetection, true, window);
        assert.equal(requiresSession, false, window);
        const windowSeconds = isoDurationSeconds(duplicateDetectionHistoryTimeWindow) ?? 0;
        assert.ok(
          windowSeconds >= periodSeconds + deployed.scheduleDelaySeconds,
          `${window}: ${duplicateDetectionHistoryTimeWindow} covers the period and delay`,
        );
        forwardTargets.add(queueNameOf(forwardTo));
      }
      assert.equal(forwardTargets.size, 1, "every processing queue forwards to the one work queue");
      const [workQueueName] = [...forwardTargets];
      assert.equal((await admin.getQueue(workQueueName ?? "")).requiresSession, true);
    },
  );

  it(
    "gets a run waiting in the deployed work queue processed: the scale controller wakes the app it can read the queue for",
    {
      skip: process.env.DEDUP_PRODUCER_CONFIG
        ? false
        : "set DEDUP_PRODUCER_CONFIG to the stack's producerConfig output",
    },
    async () => {
      const deployed = JSON.parse(process.env.DEDUP_PRODUCER_CONFIG ?? "{}") as ProcessingScheduleConfig;
      const [window, { queueName }] = Object.entries(deployed.windows)[0];
      const workQueueName = queueNameOf((await admin.getQueue(queueName)).forwardTo) ?? "";
      const before = await admin.getQueueRuntimeProperties(workQueueName);
      // A period that ended yesterday, sent straight to the work queue: no waiting for its schedule.
      const { message } = planProcessing(deployed, {
        dataSetId: `cloud-probe-${randomUUID()}`,
        observedAt: new Date(Date.now() - 2 * 86_400_000),
        window,
      });
      const sender = client.createSender(workQueueName);
      try {
        await sender.sendMessages(message);
      } finally {
        await sender.close();
      }
      // Peeking a session queue would need its session lock, which would keep the app off the run;
      // on an otherwise idle development stack the queue's counts say when the run has been taken.
      const deadline = Date.now() + 8 * 60_000;
      let after = await admin.getQueueRuntimeProperties(workQueueName);
      while (after.activeMessageCount > before.activeMessageCount && Date.now() < deadline) {
        await sleep(15_000);
        after = await admin.getQueueRuntimeProperties(workQueueName);
      }
      assert.ok(
        after.activeMessageCount <= before.activeMessageCount,
        `the run for ${message.sessionId} still waits in ${workQueueName} after 8 minutes`,
      );
      assert.equal(
        after.deadLetterMessageCount,
        before.deadLetterMessageCount,
        "the run was processed, not dead-lettered",
      );
    },
  );
});
