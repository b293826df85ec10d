/**
 * The local end-to-end scenarios `npm start` runs, one per component.
 */
import { scenario as dedupForwardingQueue } from "./dedup-forwarding-queue";
import { scenario as fanOutIngest } from "./fan-out-ingest";
import { scenario as fifoIngester } from "./fifo-ingester";
import { scenario as persistentEniAsg } from "./persistent-eni-asg";
import type { Scenario } from "./scenario";
import { scenario as scheduledNotifier } from "./scheduled-notifier";

export const scenarios: Scenario[] = [
  fanOutIngest,
  fifoIngester,
  dedupForwardingQueue,
  persistentEniAsg,
  scheduledNotifier,
];
