#!/usr/bin/env node
/**
 * `queue-patterns`: the package's command line.
 *
 *     queue-patterns plan [programDir] [--stack <name>] [--details]
 *
 * prints the offline plan of a stack program (plan.ts): the program run as `pulumi preview` runs
 * it, with its Pulumi.yaml and Pulumi.<stack>.yaml config, against a local engine; no cloud is
 * asked. Progress goes to stderr, the plan to stdout. Exit code 0 when the program ran, 1 when it
 * failed, 2 for a usage error.
 */
import { renderPlan, runPlan } from "./plan";

export const USAGE = `Usage: queue-patterns plan [programDir] [--stack <name>] [--details]

  plan        Print the offline plan of a Pulumi stack program: it runs as \`pulumi preview\`
              runs it, with its Pulumi.yaml and Pulumi.<stack>.yaml config, against a local
              engine that answers as the providers would. No cloud is asked.
  programDir  The folder holding Pulumi.yaml. Default: the current folder.
  --stack     The stack whose Pulumi.<stack>.yaml config to use. Default: the only stack file
              beside Pulumi.yaml, else "dev".
  --details   Print each resource's inputs beneath it.`;

/** A parsed command line. */
export interface PlanCommand {
  command: "plan";
  programDir: string;
  stack?: string;
  details: boolean;
}

export class UsageError extends Error {}

/** Parses `plan [programDir] [--stack <name>|--stack=<name>] [--details]`; throws UsageError otherwise. */
export function parseArguments(args: string[]): PlanCommand | { command: "help" } {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help")
    return { command: "help" };
  if (command !== "plan") throw new UsageError(`unknown command "${command}"`);
  const parsed: PlanCommand = { command: "plan", programDir: ".", details: false };
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
  const result = await runPlan(parsed.programDir, {
    stack: parsed.stack,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${renderPlan(result, { details: parsed.details })}\n`);
  return result.failure === undefined ? 0 : 1;
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
