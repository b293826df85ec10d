/**
 * The local end-to-end scenarios `npm start` runs, one per component.
 */
import { scenario as dedupForwardingQueue } from "./dedup-forwarding-queue";
import type { Scenario } from "./scenario";

export const scenarios: Scenario[] = [dedupForwardingQueue];
