/**
 * Replays observations against the fake namespace in time order. The clock moves from one event
 * to the next: each scheduled message falling due (then the session trigger stand-in drains the work
 * queue, as the host would as soon as the message appears) and each observation (then the producer
 * schedules it); finally up to `until`.
 */
import type { DedupForwardingQueueSettings } from "../../../components/dedup-forwarding-queue";
import type { Observation, ProcessingScheduler } from "../../../runtime/dedup-forwarding-queue/producer";
import { FakeServiceBus } from "../../harness/fakes/service-bus";
import { drainSessions, type InvokeFunction, type SessionTriggerReport } from "./session-trigger";

/** A fake namespace with the queues a component's settings declare. */
export function fakeNamespaceFor(settings: DedupForwardingQueueSettings, start: Date): FakeServiceBus {
  const bus = new FakeServiceBus(start);
  bus.createQueue(settings.workQueueName, {
    requiresSession: true,
    duplicateDetectionWindowSeconds: settings.workQueueDuplicateWindowSeconds,
    maxDeliveryCount: settings.maxDeliveryCount,
  });
  for (const window of settings.windows) {
    bus.createQueue(window.queueName, {
      duplicateDetectionWindowSeconds: window.duplicateWindowSeconds,
      forwardTo: settings.workQueueName,
    });
  }
  return bus;
}

export async function replayObservations(options: {
  bus: FakeServiceBus;
  scheduler: ProcessingScheduler;
  workQueueName: string;
  invoke: InvokeFunction;
  observations: (Observation & { observedAt: Date })[];
  until: Date;
}): Promise<SessionTriggerReport> {
  const total: SessionTriggerReport = { invocations: 0, completed: 0, abandoned: 0 };
  const drain = async () => {
    const report = await drainSessions({ bus: options.bus, queueName: options.workQueueName, invoke: options.invoke });
    total.invocations += report.invocations;
    total.completed += report.completed;
    total.abandoned += report.abandoned;
  };
  const runDueUntil = async (time: Date) => {
    for (let due = options.bus.nextDueTime(); due && due <= time; due = options.bus.nextDueTime()) {
      options.bus.advanceTo(due);
      await drain();
    }
    options.bus.advanceTo(time);
  };
  const inOrder = [...options.observations].sort((a, b) => a.observedAt.getTime() - b.observedAt.getTime());
  for (const observation of inOrder) {
    await runDueUntil(observation.observedAt);
    await options.scheduler.scheduleProcessing(observation);
  }
  await runDueUntil(options.until);
  await drain();
  return total;
}
