/**
 * The fake namespace's rules, each checked on its own: the end-to-end tests are only as good as
 * the fake is faithful to the documented behaviour.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceBusError } from "@azure/service-bus";
import { FakeServiceBus } from "./service-bus";

const start = new Date("2024-05-01T00:00:00Z");
const MINUTE = 60_000;

function processingPair(windowSeconds = 600) {
  const bus = new FakeServiceBus(start);
  bus.createQueue("work", { requiresSession: true, duplicateDetectionWindowSeconds: 60, maxDeliveryCount: 3 });
  bus.createQueue("processing", { duplicateDetectionWindowSeconds: windowSeconds, forwardTo: "work" });
  return bus;
}

const message = (id: string, sessionId?: string) => ({ messageId: id, sessionId, body: { id } });

describe("the fake Service Bus", () => {
  it("drops a scheduled message whose id was first seen within the window, at send time", async () => {
    const bus = processingPair();
    const sender = bus.createSender("processing");
    await sender.scheduleMessages(message("a", "a"), new Date(start.getTime() + 20 * MINUTE));
    bus.advanceBy(5 * MINUTE);
    const sequenceNumbers = await sender.scheduleMessages(message("a", "a"), new Date(start.getTime() + 20 * MINUTE));
    assert.equal(sequenceNumbers.length, 1, "a duplicate still gets a sequence number");
    assert.deepEqual(bus.stats("processing"), { active: 0, scheduled: 1, deadLettered: 0 });
  });

  it("measures the window from first sight, not from the last duplicate", async () => {
    const bus = processingPair(600);
    const sender = bus.createSender("processing");
    for (let minute = 0; minute <= 10; minute += 5) {
      bus.advanceTo(new Date(start.getTime() + minute * MINUTE));
      await sender.scheduleMessages(message("a", "a"), new Date(start.getTime() + 60 * MINUTE));
    }
    assert.equal(bus.stats("processing").scheduled, 2, "sends at 0 and 5 min are one; the one at 10 min is new");
  });

  it("materializes a scheduled message at its time and forwards it with its SessionId", async () => {
    const bus = processingPair();
    await bus
      .createSender("processing")
      .scheduleMessages(message("a", "session-a"), new Date(start.getTime() + 20 * MINUTE));
    bus.advanceBy(19 * MINUTE);
    assert.deepEqual(bus.stats("work"), { active: 0, scheduled: 0, deadLettered: 0 });
    bus.advanceBy(MINUTE);
    const receiver = await bus.acceptSession("work", "session-a");
    const [received] = await receiver.receiveMessages(1);
    assert.equal(received.sessionId, "session-a");
    assert.equal(received.enqueuedTimeUtc?.toISOString(), "2024-05-01T00:20:00.000Z");
  });

  it("dead-letters at the source a forwarded message without SessionId that a session queue cannot take", async () => {
    const bus = processingPair();
    await bus.createSender("processing").sendMessages(message("a"));
    const [deadLettered] = await bus.createReceiver("processing", { subQueueType: "deadLetter" }).peekMessages(1);
    assert.match(
      deadLettered.deadLetterErrorDescription ?? "",
      /work requires sessions and the message has no SessionId/,
    );
    assert.equal(bus.stats("work").active, 0);
  });

  it("refuses a direct send without SessionId into a session queue", async () => {
    const bus = processingPair();
    await assert.rejects(bus.createSender("work").sendMessages(message("a")), /work requires sessions/);
  });

  it("refuses a session-enabled queue that forwards", () => {
    const bus = new FakeServiceBus(start);
    assert.throws(() => bus.createQueue("q", { requiresSession: true, forwardTo: "other" }), /cannot auto-forward/);
  });

  it("has no receivers on a forwarding queue", () => {
    assert.throws(() => processingPair().createReceiver("processing"), /a queue with auto-forwarding has no receivers/);
  });

  it("lets one receiver hold a session at a time", async () => {
    const bus = processingPair();
    await bus.createSender("work").sendMessages(message("a", "s"));
    await bus.acceptNextSession("work");
    await assert.rejects(
      bus.acceptSession("work", "s"),
      (error: ServiceBusError) => error.code === "SessionCannotBeLocked",
    );
    await assert.rejects(bus.acceptNextSession("work"), (error: ServiceBusError) => error.code === "ServiceTimeout");
  });

  it("counts deliveries from 1 and dead-letters after maxDeliveryCount abandons", async () => {
    const bus = processingPair();
    await bus.createSender("work").sendMessages(message("a", "s"));
    const receiver = await bus.acceptSession("work", "s");
    const counts: number[] = [];
    for (let [received] = await receiver.receiveMessages(1); received; [received] = await receiver.receiveMessages(1)) {
      counts.push(received.deliveryCount ?? -1);
      await receiver.abandonMessage(received);
    }
    assert.deepEqual(counts, [1, 2, 3]);
    const [deadLettered] = await bus.createReceiver("work", { subQueueType: "deadLetter" }).peekMessages(1);
    assert.equal(deadLettered.deadLetterReason, "MaxDeliveryCountExceeded");
  });

  it("removes a completed message", async () => {
    const bus = processingPair();
    await bus.createSender("work").sendMessages(message("a", "s"));
    const receiver = await bus.acceptSession("work", "s");
    const [received] = await receiver.receiveMessages(1);
    await receiver.completeMessage(received);
    assert.deepEqual(bus.stats("work"), { active: 0, scheduled: 0, deadLettered: 0 });
  });

  it("does not deduplicate forwarded messages again in the destination", async () => {
    const bus = processingPair(20);
    const sender = bus.createSender("processing");
    await sender.sendMessages(message("a", "a"));
    bus.advanceBy(MINUTE / 2);
    await sender.sendMessages(message("a", "a"));
    assert.equal(
      bus.stats("work").active,
      2,
      "the processing queue's 20 s window had passed; the work queue's 60 s window is not consulted",
    );
  });
});
