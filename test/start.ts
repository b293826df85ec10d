/**
 * `npm start`: the main job on the embedded defaults.
 * 1. The dev stack's offline plan (cli/plan.ts, as `queue-patterns plan . --details` prints it):
 *    index.ts runs as `pulumi preview` runs it (Pulumi's own cmd/run, which compiles it, with
 *    Pulumi.dev.yaml's config) against a loopback engine, and the plan is printed as `pulumi preview`
 *    prints one, each resource's inputs beneath it, with progress lines while it compiles and runs.
 *    No cloud is asked. The same config is then planned in-process under Pulumi mocks, and the two
 *    resource sets compared.
 * 2. The local end-to-end scenarios of the components, on emulators started here and stopped at the
 *    end. `npm start -- --plan-only` stops after the plan.
 * Exits non-zero if the plan fails or a scenario's check fails.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { planShape } from "../cli/language-host";
import { renderPlan, runPlan } from "../cli/plan";
import { engineConfig, stackConfig } from "../cli/stack-config";
import { type Azurite, type Fauxqs, startAzurite, startFauxqs } from "../testing/emulators";
import { installMocks } from "../testing/mocks";
import { scenarios } from "./scenarios";
import type { ScenarioContext } from "./scenarios/scenario";

const repoRoot = path.resolve(__dirname, "..", "..");
const STACK = "dev";
const started = Date.now();

/** A progress line, stamped with the time since `npm start` began. */
function progress(text: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);
}

/**
 * Runs `work`, printing `still <doing> (Ns)` whenever `quietMs` pass without a line, so a long step
 * never looks stuck.
 */
async function withHeartbeat<T>(doing: string, work: () => Promise<T>, quietMs = 15_000): Promise<T> {
  const began = Date.now();
  const timer = setInterval(() => progress(`still ${doing} (${Math.round((Date.now() - began) / 1000)}s)`), quietMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

async function printPlan(): Promise<boolean> {
  console.log(`== Offline plan of stack "${STACK}" ==`);
  const plan = await runPlan(repoRoot, { stack: STACK, onProgress: (line) => console.log(line) });
  console.log(`\n${renderPlan(plan, { details: true })}\n`);
  if (plan.failure !== undefined) return false;

  progress("planning the same config in-process under Pulumi mocks (builds the artifacts in this process)");
  const recorder = installMocks();
  pulumi.runtime.setAllConfig(engineConfig(stackConfig(repoRoot, STACK).config));
  require("../index");
  await withHeartbeat("planning in-process", () => recorder.settle());
  const stackName = `queue-patterns-${STACK}`;
  const hostShape = planShape(plan.resources, stackName);
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

/** Starts an emulator, saying so when it starts and when it is ready. */
function announce<T>(emulator: string, services: string, start: () => Promise<T>): Promise<T> {
  progress(`starting ${emulator} (${services}) on a free loopback port`);
  return start().then((value) => {
    progress(`${emulator} is ready`);
    return value;
  });
}

async function runScenarios(): Promise<boolean> {
  let fauxqs: Promise<Fauxqs> | undefined;
  let azurite: Promise<Azurite> | undefined;
  const context: ScenarioContext = {
    fauxqs: () => (fauxqs ??= announce("fauxqs", "SNS/SQS", startFauxqs)),
    azurite: () => (azurite ??= announce("Azurite", "Blob, Queue", startAzurite)),
    log: (line) => console.log(`    ${line}`),
  };
  let allPassed = true;
  try {
    for (const scenario of scenarios) {
      console.log(`\n== Scenario: ${scenario.component}: ${scenario.description} ==`);
      progress(`building ${scenario.component}'s artifacts and running them`);
      try {
        const result = await withHeartbeat(`running the ${scenario.component} scenario`, () => scenario.run(context));
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

async function main(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--plan-only");
  if (unknown.length > 0) {
    console.error(`npm start: unknown argument ${unknown.join(" ")}; usage: npm start [-- --plan-only]`);
    return 2;
  }
  const planned = await printPlan();
  if (args.includes("--plan-only")) return planned ? 0 : 1;
  const passed = (await runScenarios()) && planned;
  console.log(`\n${scenarios.length} scenarios, ${passed ? "all passed" : "some FAILED"}`);
  return passed ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
