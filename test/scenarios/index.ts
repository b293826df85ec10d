/**
 * The local end-to-end scenarios `npm start` runs, one per component.
 */
import type { Scenario } from "./scenario";

export const scenarios: Scenario[] = [];
