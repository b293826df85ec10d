/**
 * A local end-to-end scenario that `npm start` runs after printing the offline plan: a component's
 * built artifacts doing their job on emulators or fakes, checked, with a short report.
 */
import type { Azurite, Fauxqs } from "../../testing/emulators";

export interface ScenarioContext {
  /** Lazily started emulators, shared by all scenarios of one `npm start` and stopped at its end. */
  fauxqs(): Promise<Fauxqs>;
  azurite(): Promise<Azurite>;
  /** Prints one line of the scenario's report. */
  log(line: string): void;
}

export interface ScenarioResult {
  /** Whether the scenario's own check passed; `npm start` exits non-zero otherwise. */
  ok: boolean;
  /** One line: what was checked and the numbers. */
  summary: string;
}

export interface Scenario {
  /** The component it exercises, e.g. "FifoIngester". */
  component: string;
  description: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}
