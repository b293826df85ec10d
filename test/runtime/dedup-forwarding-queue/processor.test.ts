import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvocationContext } from "@azure/functions";
import {
  MalformedProcessingRequestError,
  type ProcessingRequest,
} from "../../../runtime/dedup-forwarding-queue/message";
import type { ProcessingRun } from "../../../runtime/dedup-forwarding-queue/contract";
import { createProcessingHandler } from "../../../runtime/dedup-forwarding-queue/processor";

const options = {
  functionName: "process",
  queueName: "readings-work",
  connection: "ServiceBus",
  maxDeliveryCount: 3,
  windows: ["daily"],
};
const request: ProcessingRequest = {
  dataSetId: "station-7",
  period: "2024-05-01",
  window: "daily",
  periodStart: "2024-05-01T00:00:00.000Z",
  periodEnd: "2024-05-02T00:00:00.000Z",
};

/** An invocation context of the given delivery; `errors` holds what was logged at warning or error level. */
function contextWith(deliveryCount: number) {
  const errors: string[] = [];
  const levels: string[] = [];
  const context = new InvocationContext({
    functionName: "process",
    triggerMetadata: {
      messageId: "station-7-2024-05-01",
      sessionId: "station-7-2024-05-01",
      deliveryCount,
      enqueuedTimeUtc: "2024-05-02T00:05:00.000Z",
    },
    logHandler: (level, ...args) => {
      if (level === "error" || level === "warning") {
        errors.push(args.join(" "));
        levels.push(level);
      }
    },
  });
  return { context, errors, levels };
}

describe("the processing handler", () => {
  it("calls process with the request's fields, the period as Dates and the message's metadata", async () => {
    const runs: ProcessingRun[] = [];
    await createProcessingHandler(async (run) => void runs.push(run), options)(request, contextWith(1).context);
    assert.deepEqual(runs, [
      {
        dataSetId: "station-7",
        period: "2024-05-01",
        window: "daily",
        periodStart: new Date("2024-05-01T00:00:00.000Z"),
        periodEnd: new Date("2024-05-02T00:00:00.000Z"),
        message: {
          messageId: "station-7-2024-05-01",
          sessionId: "station-7-2024-05-01",
          deliveryCount: 1,
          enqueuedTimeUtc: "2024-05-02T00:05:00.000Z",
        },
      },
    ]);
  });

  it("reads a body the host passes as JSON text", async () => {
    const seen: string[] = [];
    await createProcessingHandler(async (run) => void seen.push(run.dataSetId), options)(
      JSON.stringify(request),
      contextWith(1).context,
    );
    assert.deepEqual(seen, ["station-7"]);
  });

  it("rethrows a failure of process and logs the attempt, so the host abandons the message", async () => {
    const { context, errors } = contextWith(1);
    const handler = createProcessingHandler(async () => {
      throw new Error("warehouse unavailable");
    }, options);
    await assert.rejects(handler(request, context), /warehouse unavailable/);
    assert.deepEqual(errors, [
      "processing message station-7-2024-05-01 failed on delivery 1 of 3; the message is abandoned and redelivered. Error: warehouse unavailable",
    ]);
  });

  it("logs a failure Service Bus will redeliver as a warning, and the last delivery's as an error", async () => {
    const handler = createProcessingHandler(async () => {
      throw new Error("warehouse unavailable");
    }, options);
    const levels: string[] = [];
    for (const deliveryCount of [1, 2, 3]) {
      const attempt = contextWith(deliveryCount);
      await assert.rejects(handler(request, attempt.context));
      levels.push(...attempt.levels);
    }
    assert.deepEqual(levels, ["warning", "warning", "error"]);
  });

  it("says on the last delivery that Service Bus dead-letters the message", async () => {
    const { context, errors } = contextWith(3);
    const handler = createProcessingHandler(async () => {
      throw new Error("warehouse unavailable");
    }, options);
    await assert.rejects(handler(request, context));
    assert.match(
      errors[0],
      /failed on delivery 3 of 3; this was the last delivery: Service Bus dead-letters the message \(MaxDeliveryCountExceeded\)/,
    );
  });

  it("fails a body that is not a processing request without calling process", async () => {
    let called = false;
    const { context, errors } = contextWith(1);
    const handler = createProcessingHandler(async () => {
      called = true;
    }, options);
    await assert.rejects(handler({ dataSetId: "x" }, context), MalformedProcessingRequestError);
    assert.equal(called, false);
    assert.match(
      errors[0],
      /malformed processing request: period, window, periodStart, periodEnd missing or not a non-empty string/,
    );
  });

  it("logs a malformed body's reason with the message id on every delivery, up to the one Service Bus dead-letters", async () => {
    const handler = createProcessingHandler(async () => {}, options);
    const logged: string[] = [];
    for (const deliveryCount of [1, 2, 3]) {
      const { context, errors } = contextWith(deliveryCount);
      await assert.rejects(handler({ ...request, window: "hourly" }, context));
      logged.push(...errors);
    }
    const reason = `MalformedProcessingRequestError: ${new MalformedProcessingRequestError('window "hourly" is not one of daily').message}`;
    assert.deepEqual(logged, [
      `processing message station-7-2024-05-01 failed on delivery 1 of 3; the message is abandoned and redelivered. ${reason}`,
      `processing message station-7-2024-05-01 failed on delivery 2 of 3; the message is abandoned and redelivered. ${reason}`,
      `processing message station-7-2024-05-01 failed on delivery 3 of 3; this was the last delivery: Service Bus dead-letters the message (MaxDeliveryCountExceeded). ${reason}`,
    ]);
  });

  it("fails a request for a window the app was not configured with", async () => {
    const handler = createProcessingHandler(async () => {}, options);
    await assert.rejects(
      handler({ ...request, window: "hourly" }, contextWith(1).context),
      new MalformedProcessingRequestError('window "hourly" is not one of daily'),
    );
  });

  it("fails a body that is not JSON", async () => {
    const handler = createProcessingHandler(async () => {}, options);
    await assert.rejects(
      handler("not json", contextWith(1).context),
      /malformed processing request: the body is not JSON/,
    );
  });
});
