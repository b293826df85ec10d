import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceBusMessage } from "@azure/service-bus";
import {
  InvalidObservationError,
  MAX_ID_LENGTH,
  planProcessing,
  ProcessingScheduler,
  type ProcessingScheduleConfig,
  processingId,
} from "../../../runtime/dedup-forwarding-queue/producer";
import { FakeServiceBus } from "../../harness/fakes/service-bus";

const config: ProcessingScheduleConfig = {
  timeZone: "UTC",
  scheduleDelaySeconds: 300,
  windows: {
    daily: { queueName: "readings-processing-daily", periodSeconds: 86_400 },
    twoHourly: { queueName: "readings-processing-twohourly", periodSeconds: 7200 },
  },
};

/** Records what a scheduler hands to its senders. */
function recordingClient() {
  const scheduled: { queueName: string; message: ServiceBusMessage; at: Date }[] = [];
  const closed: string[] = [];
  return {
    scheduled,
    closed,
    createSender: (queueName: string) => ({
      scheduleMessages: async (message: unknown, at: Date) => {
        scheduled.push({ queueName, message: message as ServiceBusMessage, at });
        return [];
      },
      close: async () => {
        closed.push(queueName);
      },
    }),
  };
}

describe("planning a processing message", () => {
  it("uses <dataSetId>-<period> as both MessageId and SessionId", () => {
    const { message } = planProcessing(config, {
      dataSetId: "station-7",
      observedAt: "2024-05-01T09:15:00Z",
      window: "daily",
    });
    assert.equal(message.messageId, "station-7-2024-05-01");
    assert.equal(message.sessionId, "station-7-2024-05-01");
  });

  it("schedules the message at the end of the period plus the delay", () => {
    const { plan } = planProcessing(config, {
      dataSetId: "station-7",
      observedAt: "2024-05-01T09:15:00Z",
      window: "twoHourly",
    });
    assert.equal(plan.scheduledEnqueueTime.toISOString(), "2024-05-01T10:05:00.000Z");
    assert.equal(plan.queueName, "readings-processing-twohourly");
  });

  it("carries the data set, period, window and period bounds in a JSON body", () => {
    const { message } = planProcessing(config, {
      dataSetId: "station-7",
      observedAt: "2024-05-01T09:15:00Z",
      window: "twoHourly",
    });
    assert.equal(message.contentType, "application/json");
    assert.deepEqual(message.body, {
      dataSetId: "station-7",
      period: "2024-05-01T08:00/PT2H",
      window: "twoHourly",
      periodStart: "2024-05-01T08:00:00.000Z",
      periodEnd: "2024-05-01T10:00:00.000Z",
    });
  });

  it("follows the configured time zone", () => {
    const london = { ...config, timeZone: "Europe/London" };
    const { plan } = planProcessing(london, { dataSetId: "s", observedAt: "2025-10-26T23:30:00Z", window: "daily" });
    assert.equal(plan.period, "2025-10-26");
    assert.equal(plan.scheduledEnqueueTime.toISOString(), "2025-10-27T00:05:00.000Z");
  });

  it("accepts epoch milliseconds and Dates for observedAt", () => {
    const at = Date.parse("2024-05-01T09:15:00Z");
    const fromNumber = planProcessing(config, { dataSetId: "s", observedAt: at, window: "daily" }).plan;
    const fromDate = planProcessing(config, { dataSetId: "s", observedAt: new Date(at), window: "daily" }).plan;
    assert.deepEqual(fromNumber, fromDate);
  });
});

describe("ids longer than Service Bus allows", () => {
  const long = `sensor-${"x".repeat(200)}`;

  it("stays within 128 characters and still ends with the period", () => {
    const id = processingId(long, "2024-05-01T08:00/PT2H");
    assert.ok(id.length <= MAX_ID_LENGTH, `${id.length} characters`);
    assert.ok(id.endsWith("-2024-05-01T08:00/PT2H"));
    assert.ok(id.startsWith("sensor-xxx"));
  });

  it("tells apart two long ids that share their prefix", () => {
    assert.notEqual(processingId(`${long}-a`, "2024-05-01"), processingId(`${long}-b`, "2024-05-01"));
  });

  it("gives every producer the same id for the same data set and period", () => {
    assert.equal(processingId(long, "2024-05-01"), processingId(long, "2024-05-01"));
  });

  it("keeps an id of exactly 128 characters as it is", () => {
    const dataSetId = "d".repeat(MAX_ID_LENGTH - "-2024-05-01".length);
    assert.equal(processingId(dataSetId, "2024-05-01"), `${dataSetId}-2024-05-01`);
  });

  it("never cuts a character in half", () => {
    const emoji = "\u{1F600}".repeat(100);
    const id = processingId(emoji, "2024-05-01");
    assert.doesNotMatch(id, /[\ud800-\udbff](?![\udc00-\udfff])/, "no unpaired high surrogate");
  });
});

describe("bad observations", () => {
  const plan = (observation: Record<string, unknown>) =>
    planProcessing(config, {
      dataSetId: "s",
      observedAt: "2024-05-01T00:00:00Z",
      window: "daily",
      ...observation,
    } as never);

  it("rejects an empty data set id", () => {
    assert.throws(
      () => plan({ dataSetId: "  " }),
      new InvalidObservationError('dataSetId "  " is empty; pass the data set\'s id.'),
    );
  });

  it("rejects a data set id that is not a string", () => {
    assert.throws(
      () => plan({ dataSetId: 42 }),
      new InvalidObservationError("dataSetId 42 is not a string; pass the data set's id."),
    );
  });

  it("rejects a data set id with control characters", () => {
    assert.throws(
      () => plan({ dataSetId: "a\nb" }),
      new InvalidObservationError('dataSetId "a\\nb" contains control characters; use printable characters only.'),
    );
  });

  it("rejects an unknown window, naming the configured ones", () => {
    assert.throws(
      () => plan({ window: "hourly" }),
      new InvalidObservationError('window "hourly" is not configured; use one of "daily", "twoHourly".'),
    );
  });

  it("rejects an observation time that is not a time", () => {
    assert.throws(
      () => plan({ observedAt: "yesterday" }),
      new InvalidObservationError(
        'observedAt "yesterday" is not a point in time; pass a Date, an ISO 8601 string or epoch milliseconds.',
      ),
    );
  });

  it("rejects a configuration whose time zone is a UTC offset, as the component does", () => {
    assert.throws(
      () => new ProcessingScheduler(recordingClient(), { ...config, timeZone: "+01:00" }),
      new InvalidObservationError('the configuration\'s timeZone "+01:00" is not an IANA time zone.'),
    );
  });

  it("rejects a configuration whose time zone Node.js does not know", () => {
    assert.throws(
      () => new ProcessingScheduler(recordingClient(), { ...config, timeZone: "Mars/Olympus" }),
      new InvalidObservationError('the configuration\'s timeZone "Mars/Olympus" is not an IANA time zone.'),
    );
  });
});

describe("the scheduler", () => {
  it("schedules through the window's processing queue at the planned time", async () => {
    const client = recordingClient();
    const scheduler = new ProcessingScheduler(client, config);
    const plan = await scheduler.scheduleProcessing({
      dataSetId: "station-7",
      observedAt: "2024-05-01T09:15:00Z",
      window: "daily",
    });
    assert.equal(client.scheduled.length, 1);
    assert.equal(client.scheduled[0].queueName, "readings-processing-daily");
    assert.equal(client.scheduled[0].at.toISOString(), "2024-05-02T00:05:00.000Z");
    assert.equal(client.scheduled[0].message.messageId, plan.messageId);
  });

  it("reuses one sender per queue and closes them all", async () => {
    const client = recordingClient();
    let created = 0;
    const scheduler = new ProcessingScheduler(
      {
        createSender: (queueName) => {
          created += 1;
          return client.createSender(queueName);
        },
      },
      config,
    );
    for (const window of ["daily", "daily", "twoHourly"]) {
      await scheduler.scheduleProcessing({ dataSetId: "s", observedAt: "2024-05-01T00:00:00Z", window });
    }
    await scheduler.close();
    assert.equal(created, 2);
    assert.deepEqual(client.closed.sort(), ["readings-processing-daily", "readings-processing-twohourly"]);
  });

  it("works against the typed fake namespace, whose processing queue keeps only the first of a day", async () => {
    const bus = new FakeServiceBus(new Date("2024-05-01T00:00:00Z"));
    bus.createQueue("readings-processing-daily", { duplicateDetectionWindowSeconds: 86_400 + 300 });
    const scheduler = new ProcessingScheduler(bus, { ...config, windows: { daily: config.windows.daily } });
    for (const hour of [1, 5, 9]) {
      bus.advanceTo(new Date(`2024-05-01T0${hour}:00:00Z`));
      await scheduler.scheduleProcessing({ dataSetId: "s", observedAt: bus.now(), window: "daily" });
    }
    assert.deepEqual(bus.stats("readings-processing-daily"), { active: 0, scheduled: 1, deadLettered: 0 });
  });
});

describe("late observations", () => {
  const daily = { queueName: "readings-processing-daily", periodSeconds: 86_400, duplicateWindowSeconds: 86_700 };
  const windowed: ProcessingScheduleConfig = { ...config, windows: { daily } };

  /** A namespace whose clock is `now`, with the processing queue the component would create. */
  function namespaceAt(now: string) {
    const bus = new FakeServiceBus(new Date(now));
    bus.createQueue(daily.queueName, { duplicateDetectionWindowSeconds: daily.duplicateWindowSeconds });
    return { bus, scheduler: new ProcessingScheduler(bus, windowed, { now: () => bus.now() }) };
  }

  it("does not send an observation that comes after its period's id may have left the duplicate-detection window", async () => {
    const { bus, scheduler } = namespaceAt("2024-05-03T00:00:00Z");
    const result = await scheduler.scheduleProcessing({
      dataSetId: "station-7",
      observedAt: "2024-05-01T09:15:00Z",
      window: "daily",
    });
    assert.equal(result.status, "late");
    assert.equal(result.period, "2024-05-01");
    assert.deepEqual(bus.stats(daily.queueName), { active: 0, scheduled: 0, deadLettered: 0 });
  });

  it("keeps a run from happening twice when a period's observations straddle the window's end", async () => {
    const { bus, scheduler } = namespaceAt("2024-05-01T09:15:00Z");
    const observation = { dataSetId: "station-7", observedAt: "2024-05-01T09:15:00Z", window: "daily" };
    assert.equal((await scheduler.scheduleProcessing(observation)).status, "scheduled");
    bus.advanceTo(new Date("2024-05-02T09:16:00Z"));
    assert.equal((await scheduler.scheduleProcessing(observation)).status, "late");
    assert.deepEqual(bus.stats(daily.queueName), { active: 1, scheduled: 0, deadLettered: 0 });
  });

  it("still sends an observation up to the end of the window counted from the period's start", async () => {
    const { bus, scheduler } = namespaceAt("2024-05-02T00:05:00Z");
    const result = await scheduler.scheduleProcessing({
      dataSetId: "station-7",
      observedAt: "2024-05-01T23:59:00Z",
      window: "daily",
    });
    assert.equal(result.status, "scheduled");
    assert.deepEqual(bus.stats(daily.queueName), { active: 1, scheduled: 0, deadLettered: 0 }, "due at once");
  });

  it("sends every observation with a configuration that has no duplicate-detection window", async () => {
    const client = recordingClient();
    const result = await new ProcessingScheduler(client, config, {
      now: () => new Date("2030-01-01T00:00:00Z"),
    }).scheduleProcessing({ dataSetId: "s", observedAt: "2024-05-01T00:00:00Z", window: "daily" });
    assert.equal(result.status, "scheduled");
    assert.equal(client.scheduled.length, 1);
  });
});
