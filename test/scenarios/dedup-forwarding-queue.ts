/**
 * DedupForwardingQueue's `npm start` scenario: a day of observations for three data sets, on the day
 * Europe/London's clocks go back (a 25-hour local day, with 01:00-02:00 twice), through the producer
 * helper into the fake namespace, processed by the built Function App artifact. The check: exactly
 * one run per data set and period the observations touched, each after its period, none missing.
 */
import { buildArtifact, zipBytes } from "../../components/core/artifact";
import {
  type DedupForwardingQueueArgs,
  dedupForwardingQueueSettings,
  PROCESSOR_FUNCTION_NAME,
  processorEntry,
  processorHostExtensions,
  producerConfigOf,
} from "../../components/dedup-forwarding-queue";
import { functionAppArtifactSpec } from "../../components/azure/function-app";
import { type Observation, planProcessing, ProcessingScheduler } from "../../runtime/dedup-forwarding-queue/producer";
import { ArtifactProcess } from "../../testing/artifact-runner";
import { nodeBuild } from "../harness/node-builds";
import type { InvokeFunction } from "../runtime/dedup-forwarding-queue/session-trigger";
import { fakeNamespaceFor, replayObservations } from "../runtime/dedup-forwarding-queue/simulation";
import type { Scenario } from "./scenario";

const NAME = "readings";
/** Local midnight of 2025-10-26 in Europe/London (BST, UTC+1). */
const DAY_START = Date.parse("2025-10-25T23:00:00Z");
const MINUTE = 60_000;

const args: DedupForwardingQueueArgs = {
  resourceGroupName: "scenario",
  windows: { daily: 86_400, twoHourly: 7_200 },
  timeZone: "Europe/London",
  process: async ({ dataSetId, period, window, periodStart, periodEnd }) => {
    console.log(`processed ${JSON.stringify({ dataSetId, period, window, periodStart, periodEnd })}`);
  },
};

/** Three data sets: a steady one, a burst, and one that reports during the repeated hour. */
function observations(): (Observation & { observedAt: Date })[] {
  const at = (minutes: number) => new Date(DAY_START + minutes * MINUTE);
  const steady = Array.from({ length: 33 }, (_, i) => at(10 + i * 45)).map((observedAt) => ({
    dataSetId: "station-7",
    observedAt,
  }));
  const burst = [480, 487, 495, 530, 611, 640, 702].map((minutes) => ({
    dataSetId: "station-12",
    observedAt: at(minutes),
  }));
  // 01:15 BST, then 01:45 GMT (the second pass through 01:00-02:00), then 23:50 GMT.
  const repeatedHour = [75, 165, 1490].map((minutes) => ({ dataSetId: "station-31", observedAt: at(minutes) }));
  return [...steady, ...burst, ...repeatedHour].flatMap((o) => [
    { ...o, window: "daily" },
    { ...o, window: "twoHourly" },
  ]);
}

interface Run {
  dataSetId: string;
  period: string;
  window: string;
  periodStart: string;
  periodEnd: string;
  ranAt: string;
}

export const scenario: Scenario = {
  component: "DedupForwardingQueue",
  description:
    "a day of observations (Europe/London, clocks going back) for 3 data sets -> one run per data set and period",
  async run({ log }) {
    const { settings, problems } = dedupForwardingQueueSettings(NAME, args);
    problems.throwIfAny();
    const config = producerConfigOf(settings);
    const artifact = await buildArtifact(
      functionAppArtifactSpec({
        owner: `DedupForwardingQueue "${NAME}"`,
        appName: `${NAME}-fn`,
        entry: processorEntry(settings),
        callbacks: { process: args.process },
        hostExtensions: processorHostExtensions(settings),
      }),
    );
    const runner = await ArtifactProcess.start(zipBytes(artifact), "azure-functions", {}, nodeBuild);
    try {
      const bus = fakeNamespaceFor(settings, new Date(DAY_START));
      const runs: Run[] = [];
      const invoke: InvokeFunction = async (body, triggerMetadata) => {
        const invocation = await runner.invokeFunction(PROCESSOR_FUNCTION_NAME, body, triggerMetadata);
        for (const line of invocation.logs) {
          const processed = /processed (\{.*\})/.exec(line);
          if (processed) runs.push({ ...JSON.parse(processed[1]), ranAt: bus.now().toISOString() });
        }
        return invocation;
      };
      const observed = observations();
      const report = await replayObservations({
        bus,
        scheduler: new ProcessingScheduler(bus, config, { now: () => bus.now() }),
        workQueueName: settings.workQueueName,
        invoke,
        observations: observed,
        until: new Date(DAY_START + 25 * 60 * MINUTE + 10 * MINUTE),
      });

      const perRun = new Map<string, number>();
      for (const observation of observed) {
        const { plan } = planProcessing(config, observation);
        const key = `${observation.window} ${plan.messageId}`;
        perRun.set(key, (perRun.get(key) ?? 0) + 1);
      }
      log(
        `${observed.length} observations (${observed.length / 2} data points x daily + twoHourly) -> ${runs.length} processing runs:`,
      );
      log("  ran at (UTC)          data set     window     period                 observations");
      for (const run of runs) {
        const count = perRun.get(`${run.window} ${run.dataSetId}-${run.period}`) ?? 0;
        log(
          `  ${run.ranAt.slice(0, 19)}Z  ${run.dataSetId.padEnd(11)}  ${run.window.padEnd(9)}  ${run.period.padEnd(21)}  ${count}`,
        );
      }

      const expected = [...perRun.keys()].sort();
      const seen = runs.map((run) => `${run.window} ${run.dataSetId}-${run.period}`).sort();
      const afterPeriod = runs.every((run) => run.ranAt >= run.periodEnd);
      const ok =
        JSON.stringify(seen) === JSON.stringify(expected) &&
        report.invocations === runs.length &&
        report.abandoned === 0 &&
        afterPeriod;
      return {
        ok,
        summary: `${observed.length} observations -> ${runs.length} runs (expected ${expected.length}, one per data set and period), ${observed.length - runs.length} deduplicated, every run after its period: ${afterPeriod}`,
      };
    } finally {
      await runner.stop();
    }
  },
};
