/**
 * End to end on the fake namespace: the producer helper schedules observations into the queues the
 * component declares (configured from the recorded resource inputs), and the BUILT Function App
 * artifact, running in its own process with the worker's core API emulated, processes the work queue
 * the way the session trigger does.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EXISTING_NAMESPACE_LOOKUP, installMocks, resolve } from "../../../testing/mocks";

const recorder = installMocks(EXISTING_NAMESPACE_LOOKUP);

import { zipBytes } from "../../../components/core/artifact";
import { DedupForwardingQueue } from "../../../components/dedup-forwarding-queue";
import { isoDurationSeconds } from "../../harness/iso-duration";
import { ProcessingScheduler } from "../../../runtime/dedup-forwarding-queue/producer";
import { ArtifactProcess } from "../../../testing/artifact-runner";
import { nodeBuild } from "../../harness/node-builds";
import { FakeServiceBus } from "../../harness/fakes/service-bus";
import type { InvokeFunction } from "./session-trigger";
import { replayObservations } from "./simulation";

interface Run {
  dataSetId: string;
  period: string;
  window: string;
  deliveryCount: number;
}

const component = new DedupForwardingQueue("e2e", {
  resourceGroupName: "rg",
  namespace: { existing: { name: "fake-bus" } },
  windows: { daily: 86_400, twoHourly: 7_200 },
  process: async ({ dataSetId, period, window, message }) => {
    if (dataSetId.startsWith("broken")) throw new Error("summary store unavailable");
    console.log(`processed ${JSON.stringify({ dataSetId, period, window, deliveryCount: message.deliveryCount })}`);
  },
});

/** A fake namespace whose queues have exactly the properties the component declared. */
function fakeFromDeclaredQueues(start: Date): FakeServiceBus {
  const bus = new FakeServiceBus(start);
  for (const { inputs } of recorder.ofType("azure-native:servicebus:Queue").filter((q) => q.name.startsWith("e2e-"))) {
    bus.createQueue(inputs.queueName, {
      requiresSession: inputs.requiresSession,
      duplicateDetectionWindowSeconds: inputs.requiresDuplicateDetection
        ? isoDurationSeconds(inputs.duplicateDetectionHistoryTimeWindow)
        : undefined,
      forwardTo: inputs.forwardTo,
      maxDeliveryCount: inputs.maxDeliveryCount,
    });
  }
  return bus;
}

const day = (date: string, ...hours: number[]) =>
  hours.map((hour) => new Date(`${date}T${String(hour).padStart(2, "0")}:17:00Z`));

describe("the built DedupForwardingQueue artifact on the fake namespace", () => {
  let runner: ArtifactProcess;
  before(async () => {
    await resolve(component.functionApp.deployment.urn);
    await recorder.settle();
    runner = await ArtifactProcess.start(
      zipBytes(await resolve(component.functionApp.artifact)),
      "azure-functions",
      {
        ServiceBus__fullyQualifiedNamespace: "fake-bus.servicebus.windows.net",
      },
      nodeBuild,
    );
  });
  after(async () => runner?.stop());

  /** Replays observations; returns the runs `process` reported and what the failures logged. */
  async function replay(
    bus: FakeServiceBus,
    observations: { dataSetId: string; window: string; observedAt: Date }[],
    until: string,
  ) {
    const runs: Run[] = [];
    const errors: string[] = [];
    const invoke: InvokeFunction = async (body, triggerMetadata) => {
      const invocation = await runner.invokeFunction("process", body, triggerMetadata);
      for (const line of invocation.logs) {
        const processed = /processed (\{.*\})/.exec(line);
        if (processed) runs.push(JSON.parse(processed[1]));
        if (line.startsWith("error:")) errors.push(line);
      }
      return invocation;
    };
    const scheduler = new ProcessingScheduler(bus, await resolve(component.producerConfig), { now: () => bus.now() });
    const report = await replayObservations({
      bus,
      scheduler,
      workQueueName: component.workQueueName,
      invoke,
      observations,
      until: new Date(until),
    });
    return { runs, errors, report };
  }

  it("registers one session-enabled Service Bus trigger on the work queue with the identity connection prefix", async () => {
    const registrations = await runner.registrations();
    assert.deepEqual(
      registrations.map((r) => r.name),
      ["process"],
    );
    const deployment = recorder.named("pulumi-nodejs:dynamic/queue-patterns:FlexDeployment", "e2e-fn-code");
    assert.deepEqual(
      deployment.inputs.functionNames,
      ["process"],
      "the deployment waits for what the artifact registers",
    );
    const trigger = Object.values(registrations[0].bindings).find((binding) => binding.direction === "in");
    assert.deepEqual(
      {
        type: trigger?.type,
        queueName: trigger?.queueName,
        connection: trigger?.connection,
        isSessionsEnabled: trigger?.isSessionsEnabled,
        autoCompleteMessages: trigger?.autoCompleteMessages,
      },
      {
        type: "serviceBusTrigger",
        queueName: component.workQueueName,
        connection: "ServiceBus",
        isSessionsEnabled: true,
        autoCompleteMessages: true,
      },
    );
  });

  it("turns 10 observations of a data set in one day into exactly one processing run, after the day", async () => {
    const bus = fakeFromDeclaredQueues(new Date("2024-05-01T00:00:00Z"));
    const observations = day("2024-05-01", 0, 2, 5, 8, 11, 13, 16, 19, 21, 23).map((observedAt) => ({
      dataSetId: "station-7",
      window: "daily",
      observedAt,
    }));
    const { runs, report } = await replay(bus, observations, "2024-05-02T00:10:00Z");
    assert.deepEqual(runs, [{ dataSetId: "station-7", period: "2024-05-01", window: "daily", deliveryCount: 1 }]);
    assert.equal(report.invocations, 1);
  });

  it("does not run a day before its end plus the schedule delay", async () => {
    const bus = fakeFromDeclaredQueues(new Date("2024-05-01T00:00:00Z"));
    const observations = day("2024-05-01", 3).map((observedAt) => ({
      dataSetId: "station-7",
      window: "daily",
      observedAt,
    }));
    const { runs } = await replay(bus, observations, "2024-05-02T00:04:59Z");
    assert.deepEqual(runs, []);
  });

  it("turns observations over two days into two runs, one per day", async () => {
    const bus = fakeFromDeclaredQueues(new Date("2024-05-01T00:00:00Z"));
    const observations = [...day("2024-05-01", 1, 9, 17, 22), ...day("2024-05-02", 4, 12, 20)].map((observedAt) => ({
      dataSetId: "station-7",
      window: "daily",
      observedAt,
    }));
    const { runs } = await replay(bus, observations, "2024-05-03T01:00:00Z");
    assert.deepEqual(
      runs.map((run) => run.period),
      ["2024-05-01", "2024-05-02"],
    );
  });

  it("keeps two data sets independent: one run each for the same day", async () => {
    const bus = fakeFromDeclaredQueues(new Date("2024-05-01T00:00:00Z"));
    const observations = day("2024-05-01", 1, 4, 9, 15, 22).flatMap((observedAt) => [
      { dataSetId: "station-7", window: "daily", observedAt },
      { dataSetId: "station-12", window: "daily", observedAt },
    ]);
    const { runs } = await replay(bus, observations, "2024-05-02T01:00:00Z");
    assert.deepEqual(runs.map((run) => `${run.dataSetId} ${run.period}`).sort(), [
      "station-12 2024-05-01",
      "station-7 2024-05-01",
    ]);
  });

  it("runs a two-hour window once per two-hour bucket beside the daily run", async () => {
    const bus = fakeFromDeclaredQueues(new Date("2024-05-01T00:00:00Z"));
    const times = [0, 1, 2, 3, 3].map((hour) => new Date(`2024-05-01T0${hour}:30:00Z`));
    const observations = times.flatMap((observedAt) => [
      { dataSetId: "station-7", window: "twoHourly", observedAt },
      { dataSetId: "station-7", window: "daily", observedAt },
    ]);
    const { runs } = await replay(bus, observations, "2024-05-02T01:00:00Z");
    assert.deepEqual(
      runs.map((run) => `${run.window} ${run.period}`),
      ["twoHourly 2024-05-01T00:00/PT2H", "twoHourly 2024-05-01T02:00/PT2H", "daily 2024-05-01"],
    );
  });

  it("dead-letters a run whose process keeps failing after the work queue's max deliveries, with the reason", async () => {
    const bus = fakeFromDeclaredQueues(new Date("2024-05-01T00:00:00Z"));
    const observations = day("2024-05-01", 6, 18).map((observedAt) => ({
      dataSetId: "broken-sensor",
      window: "daily",
      observedAt,
    }));
    const { runs, errors, report } = await replay(bus, observations, "2024-05-02T01:00:00Z");
    assert.deepEqual(runs, []);
    assert.equal(report.invocations, 10, "the default maxDeliveryCount");
    const [deadLettered] = await bus
      .createReceiver(component.workQueueName, { subQueueType: "deadLetter" })
      .peekMessages(5);
    assert.equal(deadLettered.messageId, "broken-sensor-2024-05-01");
    assert.equal(deadLettered.deadLetterReason, "MaxDeliveryCountExceeded");
    assert.match(
      errors.at(-1) ?? "",
      /failed on delivery 10 of 10; this was the last delivery: Service Bus dead-letters the message \(MaxDeliveryCountExceeded\)\. Error: summary store unavailable/,
    );
  });
});
