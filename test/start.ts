/**
 * `npm start`: the main job on the embedded defaults.
 * 1. The dev stack's offline plan: index.ts runs as `pulumi preview` runs it (Pulumi's own cmd/run,
 *    which compiles it, with Pulumi.dev.yaml's config in PULUMI_CONFIG) against a loopback engine
 *    (harness/language-host.ts), and every resource it registers is printed (type, name, parent, key
 *    inputs). No cloud is asked: computed values (ids, ARNs) are unknown, as in a first preview. The
 *    same config is then planned in-process under Pulumi mocks, and the two resource sets compared.
 * 2. The local end-to-end scenarios of the components, on emulators started here and stopped at the end.
 * Exits non-zero if the plan fails or a scenario's check fails.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type Azurite, type Fauxqs, startAzurite, startFauxqs } from "../testing/emulators";
import { engineConfig, planShape, runProgram, stackConfigFile } from "./harness/language-host";
import { installMocks } from "../testing/mocks";
import { scenarios } from "./scenarios";
import type { ScenarioContext } from "./scenarios/scenario";

const repoRoot = path.resolve(__dirname, "..", "..");
const STACK = "dev";

/** One line per input that says something at a glance: scalars and short lists, long values cut. */
function keyInputs(inputs: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(inputs)) {
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

async function printPlan(): Promise<boolean> {
  const config = stackConfigFile(repoRoot, STACK);
  console.log(
    `== Offline plan of stack "${STACK}": index.ts run as \`pulumi preview\` runs it (Pulumi's cmd/run, ` +
      `Pulumi.${STACK}.yaml in PULUMI_CONFIG) against a loopback engine; no cloud was asked ==`,
  );
  const run = await runProgram({ projectDir: repoRoot, stack: STACK, config, preview: true });
  if (run.exitCode !== 0) {
    for (const line of run.logs.filter((l) => l.severity === "error")) console.log(line.message);
    console.log(run.stderr);
    console.log(`== the program failed (exit code ${run.exitCode}) ==`);
    return false;
  }
  const stackName = `queue-patterns-${STACK}`;
  const registered = run.registrations.filter((r) => r.type !== "pulumi:pulumi:Stack");
  for (const resource of registered) {
    const parent = resource.parent && resource.parent !== stackName ? ` (parent: ${resource.parent})` : "";
    console.log(`+ ${resource.type} ${resource.name}${parent}`);
    for (const line of keyInputs(resource.inputs)) console.log(`    ${line}`);
  }
  console.log(`    stack outputs: ${Object.keys(run.stackOutputs ?? {}).join(", ") || "(none)"}`);
  console.log(
    `== ${registered.length} resources, through the language-host path on Node ${run.program.nodeVersion} ==`,
  );

  const recorder = installMocks();
  pulumi.runtime.setAllConfig(engineConfig(config));
  require("../index");
  await recorder.settle();
  const hostShape = planShape(registered, stackName);
  const inProcessShape = planShape(recorder.resources);
  const same = JSON.stringify(hostShape) === JSON.stringify(inProcessShape);
  console.log(
    `== in-process plan of the same config under Pulumi mocks: ${recorder.resources.length} resources, ` +
      `${same ? "the same set" : "a DIFFERENT set"} ==`,
  );
  if (!same) {
    console.log(`    only via the language host: ${hostShape.filter((r) => !inProcessShape.includes(r)).join("; ")}`);
    console.log(`    only in-process: ${inProcessShape.filter((r) => !hostShape.includes(r)).join("; ")}`);
  }
  return same;
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
  const planned = await printPlan();
  const passed = (await runScenarios()) && planned;
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
