#!/usr/bin/env node
/**
 * `queue-patterns`: the package's command line.
 *
 *     queue-patterns plan [programDir] [--stack <name>] [--details]
 *     queue-patterns dev [programDir] [--stack <name>] [--details]
 *
 * `plan` prints the offline plan of a stack program (plan.ts): the program run as `pulumi preview`
 * runs it, with its Pulumi.yaml and Pulumi.<stack>.yaml config, against a local engine; no cloud is
 * asked. `dev` prints the plan, then runs each component end to end on this machine (dev.ts).
 * Progress goes to stderr, the plan and results to stdout. Exit code 0 when everything ran, 1 when
 * the program or a component's local run failed, 2 for a usage error.
 */
import { exerciseFailed, renderExercise } from "./dev";
import { renderPlan, runPlan } from "./plan";

export const USAGE = `Usage: queue-patterns plan [programDir] [--stack <name>] [--details]
       queue-patterns dev [programDir] [--stack <name>] [--details]

  plan        Print the offline plan of a Pulumi stack program: it runs as \`pulumi preview\`
              runs it, with its Pulumi.yaml and Pulumi.<stack>.yaml config, against a local
              engine that answers as the providers would. No cloud is asked.
  dev         Print the plan, then run each queue-patterns component the program declares end
              to end on this machine: its actual artifact with your callbacks, on the emulators
              (fauxqs, Azurite: install them with npm install -D fauxqs azurite), with sample
              events; see docs/testing.md.
  programDir  The folder holding Pulumi.yaml. Default: the current folder.
  --stack     The stack whose Pulumi.<stack>.yaml config to use. Default: the only stack file
              beside Pulumi.yaml, else "dev".
  --details   Print each resource's inputs beneath it.`;

/** A parsed command line. */
export interface PlanCommand {
  command: "plan" | "dev";
  programDir: string;
  stack?: string;
  details: boolean;
}

export class UsageError extends Error {}

/** Parses `plan|dev [programDir] [--stack <name>|--stack=<name>] [--details]`; throws UsageError otherwise. */
export function parseArguments(args: string[]): PlanCommand | { command: "help" } {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help")
    return { command: "help" };
  if (command !== "plan" && command !== "dev") throw new UsageError(`unknown command "${command}"`);
  const parsed: PlanCommand = { command, programDir: ".", details: false };
  let programDir: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === "--details") parsed.details = true;
    else if (arg === "--help" || arg === "-h") return { command: "help" };
    else if (arg === "--stack" || arg.startsWith("--stack=")) {
      const value = arg === "--stack" ? rest[++i] : arg.slice("--stack=".length);
      if (!value || value.startsWith("-")) throw new UsageError("--stack needs a stack name");
      parsed.stack = value;
    } else if (arg.startsWith("-")) throw new UsageError(`unknown option "${arg}"`);
    else if (programDir === undefined) programDir = arg;
    else throw new UsageError(`one program folder only, got "${programDir}" and "${arg}"`);
  }
  if (programDir !== undefined) parsed.programDir = programDir;
  return parsed;
}

async function main(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArguments>;
  try {
    parsed = parseArguments(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`queue-patterns: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed.command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const onProgress = (line: string) => process.stderr.write(`${line}\n`);
  const result = await runPlan(parsed.programDir, { stack: parsed.stack, onProgress });
  process.stdout.write(`${renderPlan(result, { details: parsed.details })}\n`);
  if (result.failure !== undefined) return 1;
  if (parsed.command === "plan") return 0;
  // Loaded only here: the local runs need the emulators' clients and the SDKs, which a plan does not.
  const { exerciseProgram } = require("../testing/program") as typeof import("../testing/program");
  const exercised = await exerciseProgram(parsed.programDir, { stack: parsed.stack, onProgress });
  process.stdout.write(`\n${renderExercise(exercised)}\n`);
  return exercised.components.some(exerciseFailed) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: Error) => {
      process.stderr.write(`queue-patterns: ${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
