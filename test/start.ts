/**
 * `npm start`: the main job on the embedded defaults.
 * 1. The dev stack's offline plan: the program runs under Pulumi mocks with Pulumi.dev.yaml's config
 *    and every resource it declares is printed (type, name, parent, key inputs). No cloud is asked:
 *    this is not `pulumi preview`, and computed values (ids, ARNs) are the mocks' stand-ins.
 * 2. The local end-to-end scenarios of the components, on emulators started here and stopped at the end.
 * Exits non-zero if the plan fails or a scenario's check fails.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { type Azurite, type Fauxqs, startAzurite, startFauxqs } from "./harness/emulators";
import { installMocks, type RecordedResource } from "./harness/mocks";
import { scenarios } from "./scenarios";
import type { ScenarioContext } from "./scenarios/scenario";

const repoRoot = path.resolve(__dirname, "..", "..");
const STACK = "dev";

/** Pulumi.<stack>.yaml's config as the engine hands it to a program: objects as JSON strings. */
function stackConfig(stack: string): Record<string, string> {
  const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
  const document = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(document.config ?? {}).map(([key, value]) => [
      key,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
}

/** One line per input that says something at a glance: scalars and short lists, long values cut. */
function keyInputs(resource: RecordedResource): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(resource.inputs)) {
    if (key.startsWith("__") || value === undefined || value === null) continue;
    let text: string;
    if (typeof value === "object") {
      if ("assets" in (value as object) || "path" in (value as object)) text = "(archive)";
      else text = JSON.stringify(value);
    } else {
      text = String(value);
    }
    lines.push(`${key}=${text.length > 100 ? `${text.slice(0, 97)}...` : text}`);
  }
  return lines;
}

async function printPlan(): Promise<number> {
  const recorder = installMocks();
  pulumi.runtime.setAllConfig(stackConfig(STACK));
  console.log(
    `== Offline plan of stack "${STACK}" (computed under Pulumi mocks from Pulumi.${STACK}.yaml; not a pulumi preview, no cloud was asked) ==`,
  );
  require("../index");
  await recorder.settle();
  for (const resource of recorder.resources) {
    const parent = resource.parent ? ` (parent: ${resource.parent})` : "";
    console.log(`+ ${resource.type} ${resource.name}${parent}`);
    for (const line of keyInputs(resource)) console.log(`    ${line}`);
  }
  console.log(`== ${recorder.resources.length} resources ==`);
  return recorder.resources.length;
}

async function runScenarios(): Promise<boolean> {
  let fauxqs: Promise<Fauxqs> | undefined;
  let azurite: Promise<Azurite> | undefined;
  const context: ScenarioContext = {
    fauxqs: () => (fauxqs ??= startFauxqs()),
    azurite: () => (azurite ??= startAzurite()),
    log: (line) => console.log(`    ${line}`),
  };
  let allPassed = true;
  try {
    for (const scenario of scenarios) {
      console.log(`\n== Scenario: ${scenario.component}: ${scenario.description} ==`);
      try {
        const result = await scenario.run(context);
        console.log(`${result.ok ? "PASS" : "FAIL"} ${scenario.component}: ${result.summary}`);
        allPassed &&= result.ok;
      } catch (error) {
        console.log(`FAIL ${scenario.component}: ${(error as Error).stack ?? error}`);
        allPassed = false;
      }
    }
  } finally {
    await Promise.all([fauxqs?.then((f) => f.stop()), azurite?.then((a) => a.stop())]);
  }
  return allPassed;
}

async function main(): Promise<number> {
  await printPlan();
  const passed = await runScenarios();
  console.log(`\n${scenarios.length} scenarios, ${passed ? "all passed" : "some FAILED"}`);
  return passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
