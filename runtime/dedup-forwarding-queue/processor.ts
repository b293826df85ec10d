/**
 * The Function App side of DedupForwardingQueue: a Service Bus trigger on the session-enabled work
 * queue runs the user's `process` callback once per data set and period. The host completes the
 * message when the callback returns; when it throws, the host abandons the message and Service Bus
 * redelivers it until maxDeliveryCount, then dead-letters it (reason MaxDeliveryCountExceeded).
 * Each failure is logged with the message id and the attempt number, so the dead-lettered message
 * can be matched to its errors: as a warning while Service Bus will redeliver the message, as an
 * error on the last delivery. (The Node.js v4 programming model formats a log call's arguments into
 * one string, `util.format`, so the ids are in the text, not separate properties.)
 */
import { app, type InvocationContext } from "@azure/functions";
import type { ProcessCallback, ProcessingMessageInfo, ProcessorOptions } from "./contract";
import { MalformedProcessingRequestError, parseProcessingRequest } from "./message";

function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

function messageInfo(context: InvocationContext): ProcessingMessageInfo {
  const metadata = context.triggerMetadata ?? {};
  const deliveryCount = metadata.deliveryCount === undefined ? undefined : Number(metadata.deliveryCount);
  return {
    messageId: text(metadata.messageId),
    sessionId: text(metadata.sessionId),
    deliveryCount,
    enqueuedTimeUtc: text(metadata.enqueuedTimeUtc),
  };
}

/** The trigger's handler: parse, run `process`, and fail loudly so the host abandons. */
export function createProcessingHandler(
  processRun: ProcessCallback,
  options: ProcessorOptions,
): (body: unknown, context: InvocationContext) => Promise<void> {
  return async (body, context) => {
    const message = messageInfo(context);
    const attempt = `delivery ${message.deliveryCount ?? "?"} of ${options.maxDeliveryCount}`;
    const lastDelivery = message.deliveryCount !== undefined && message.deliveryCount >= options.maxDeliveryCount;
    const outcome = lastDelivery
      ? "this was the last delivery: Service Bus dead-letters the message (MaxDeliveryCountExceeded)"
      : "the message is abandoned and redelivered";
    try {
      const request = parseProcessingRequest(body);
      if (!options.windows.includes(request.window)) {
        throw new MalformedProcessingRequestError(
          `window ${JSON.stringify(request.window)} is not one of ${options.windows.join(", ")}`,
        );
      }
      await processRun({
        dataSetId: request.dataSetId,
        period: request.period,
        window: request.window,
        periodStart: new Date(request.periodStart),
        periodEnd: new Date(request.periodEnd),
        message,
      });
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const text = `processing message ${message.messageId ?? "(no id)"} failed on ${attempt}; ${outcome}. ${reason}`;
      if (lastDelivery) context.error(text);
      else context.warn(text);
      throw error;
    }
  };
}

/** The runtime entry: registers the session-enabled Service Bus trigger around `process`. */
export function registerProcessor(callbacks: { process: ProcessCallback }, options: ProcessorOptions): void {
  app.serviceBusQueue(options.functionName, {
    connection: options.connection,
    queueName: options.queueName,
    isSessionsEnabled: true,
    autoCompleteMessages: true,
    cardinality: "one",
    handler: createProcessingHandler(callbacks.process, options),
  });
}
