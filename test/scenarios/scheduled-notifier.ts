/**
 * ScheduledNotifier's `npm start` scenario: one scheduled run for a few hundred recipients through
 * the rig of test/harness/rigs/notifier.ts, against a messaging API that answers 429 for a while,
 * then the same run again, which must notify nobody twice.
 */
import { deliveryReport, recipientAt, startMessagingApi } from "../harness/fakes/messaging-api";
import { buildNotifierArtifacts, startNotifierRig } from "../harness/rigs/notifier";
import type { Scenario } from "./scenario";

export const scenario: Scenario = {
  component: "ScheduledNotifier",
  description:
    "one scheduled run for a few hundred recipients: producer -> SQS (fauxqs) -> rate-limited consumer -> a messaging API that answers 429 for a while",
  async run(context) {
    const total = Number(process.env.NOTIFIER_SCENARIO_RECIPIENTS ?? 300);
    const refused = [recipientAt(7), recipientAt(150)];
    const maxReceiveCount = 4;
    const token = "scenario-token";
    const api = await startMessagingApi({
      recipients: total,
      token,
      rateLimitedForMs: 1500,
      retryAfterSeconds: 1,
      refused,
    });
    const rig = await startNotifierRig({
      fauxqs: await context.fauxqs(),
      artifacts: await buildNotifierArtifacts(maxReceiveCount),
      api,
      token,
      maxReceiveCount,
      prefix: "scenario",
    });
    try {
      const scheduledTime = "2025-03-25T09:00:00Z";
      const produced = await rig.runProducer(scheduledTime);
      if (produced.error) throw new Error(`the producer failed: ${produced.error.message}`);
      const summary = produced.result as { enqueued: number };
      context.log(`producer: run ${scheduledTime}, ${summary.enqueued} jobs enqueued from the paged directory`);

      const drained = await rig.drain(4);
      const deadLetters = await rig.deadLetters();
      const expected = Array.from({ length: total }, (_, i) => recipientAt(i + 1)).filter(
        (id) => !refused.includes(id),
      );
      const report = deliveryReport(api, scheduledTime, expected);
      context.log(
        `consumer: ${drained.records} deliveries in ${drained.batches} batches over ${(drained.elapsedMs / 1000).toFixed(1)} s, ` +
          `at most ${api.peakConcurrency()} API calls at once (maxConcurrency 4)`,
      );
      context.log(
        `sent ${report.once}, retried ${drained.failedRecords} (${api.rateLimited()} answers were 429, ${api.refusals()} were 400), ` +
          `dead-lettered ${deadLetters.length}`,
      );
      for (const message of deadLetters) {
        context.log(`  dead letter: ${message.MessageAttributes?.reason?.StringValue}`);
      }

      const retried = await rig.runProducer(scheduledTime);
      const before = api.deliveries.size;
      const redrained = await rig.drain(4);
      const afterRetry = deliveryReport(api, scheduledTime, expected);
      context.log(
        `retried run (same scheduled time): ${(retried.result as { enqueued: number } | null)?.enqueued ?? 0} jobs enqueued again, ` +
          `${redrained.records} consumed, ${api.deliveries.size - before} new notifications, ${afterRetry.twice} recipients notified twice`,
      );

      const ok =
        report.once === expected.length &&
        report.missing === 0 &&
        afterRetry.twice === 0 &&
        deadLetters.length === refused.length &&
        api.unauthorized() === 0;
      return {
        ok,
        summary: `${report.once}/${expected.length} notified exactly once, ${deadLetters.length} dead-lettered with reasons, 0 notified twice after a retried run`,
      };
    } finally {
      await rig.stop();
      await api.stop();
    }
  },
};
