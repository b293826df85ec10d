/**
 * A local stand-in for the Functions host's session-enabled Service Bus trigger over the fake
 * namespace: lock a session, hand each message to the function with the trigger metadata the host
 * passes (camel-cased, as the Node.js worker shows them), complete on success, abandon on failure
 * (autoCompleteMessages), and move on when the session has nothing left.
 */
import type { ServiceBusReceivedMessage } from "@azure/service-bus";
import { ServiceBusError } from "@azure/service-bus";
import type { FakeServiceBus, FakeSessionReceiver } from "../../harness/fakes/service-bus";

/** Runs the function for one message; resolves to the error it failed with, if any. */
export type InvokeFunction = (
  body: unknown,
  triggerMetadata: Record<string, unknown>,
) => Promise<{ error?: { message: string } }>;

export interface SessionTriggerReport {
  invocations: number;
  completed: number;
  abandoned: number;
}

/** The metadata the host passes for a Service Bus message. */
export function triggerMetadataOf(message: ServiceBusReceivedMessage): Record<string, unknown> {
  return {
    messageId: message.messageId,
    sessionId: message.sessionId,
    deliveryCount: message.deliveryCount,
    enqueuedTimeUtc: message.enqueuedTimeUtc?.toISOString(),
    sequenceNumber: message.sequenceNumber?.toNumber(),
    contentType: message.contentType,
    subject: message.subject,
  };
}

async function nextSession(bus: FakeServiceBus, queueName: string): Promise<FakeSessionReceiver | undefined> {
  try {
    return await bus.acceptNextSession(queueName);
  } catch (error) {
    if (error instanceof ServiceBusError && (error.code === "ServiceTimeout" || error.code === "SessionCannotBeLocked"))
      return undefined;
    throw error;
  }
}

/** Processes every available session of `queueName` with up to `maxConcurrentSessions` at once. */
export async function drainSessions(options: {
  bus: FakeServiceBus;
  queueName: string;
  invoke: InvokeFunction;
  maxConcurrentSessions?: number;
}): Promise<SessionTriggerReport> {
  const report: SessionTriggerReport = { invocations: 0, completed: 0, abandoned: 0 };
  const worker = async (): Promise<void> => {
    for (
      let receiver = await nextSession(options.bus, options.queueName);
      receiver;
      receiver = await nextSession(options.bus, options.queueName)
    ) {
      try {
        for (
          let [message] = await receiver.receiveMessages(1);
          message;
          [message] = await receiver.receiveMessages(1)
        ) {
          report.invocations += 1;
          const { error } = await options.invoke(message.body, triggerMetadataOf(message));
          if (error) {
            report.abandoned += 1;
            await receiver.abandonMessage(message);
          } else {
            report.completed += 1;
            await receiver.completeMessage(message);
          }
        }
      } finally {
        await receiver.close();
      }
    }
  };
  await Promise.all(Array.from({ length: options.maxConcurrentSessions ?? 8 }, worker));
  return report;
}
