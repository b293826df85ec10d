/**
 * `queue-patterns dev`: the offline plan of a stack program (plan.ts), then each component it
 * declares run end to end on this machine by `queue-patterns/testing` (exerciseProgram): its actual
 * artifact with the program's own callbacks, on the emulators, with sample events.
 */
import * as path from "node:path";
import type { ComponentExercise, ProgramExercise } from "../testing/program";

/** Whether a component's local run failed (its artifact, process or emulator), as opposed to ran. */
export function exerciseFailed(run: ComponentExercise): run is Extract<ComponentExercise, { error: string }> {
  return "error" in run;
}

/** One value of a run as a summary shows it: a count for lists and maps, numbers as they are. */
function summaryValue(value: unknown): string | undefined {
  if (Array.isArray(value)) return String(value.length);
  if (typeof value === "number") return String(value);
  if (typeof value === "object" && value !== null) {
    const counts = Object.values(value).map((item) => (Array.isArray(item) ? item.length : undefined));
    if (counts.every((count) => count !== undefined)) return String(counts.reduce((sum, count) => sum + count, 0));
  }
  return undefined;
}

/** What `dev` prints after the plan: per component, what its local run did, and dead letters with their reasons. */
export function renderExercise(result: ProgramExercise): string {
  const entry = path.relative(process.cwd(), result.entry) || result.entry;
  const lines = [`Local runs of stack "${result.stack}" (${entry}), with sample events:`];
  if (result.components.length === 0) lines.push("    the program declares no queue-patterns component");
  for (const run of result.components) {
    if ("skipped" in run) {
      lines.push(`  - ${run.component} ${run.name}: skipped, ${run.skipped}`);
      continue;
    }
    if (exerciseFailed(run)) {
      lines.push(`  ✗ ${run.component} ${run.name}: the local run failed`);
      lines.push(...run.error.split("\n").map((line) => `      ${line}`));
      continue;
    }
    const counts = Object.entries(run)
      .filter(([key]) => !["component", "name", "node", "elapsedMs"].includes(key))
      .map(([key, value]) => [key, summaryValue(value)] as const)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key} ${value}`);
    lines.push(`  ✓ ${run.component} ${run.name} (${(run.elapsedMs / 1000).toFixed(1)} s): ${counts.join(", ")}`);
    for (const letter of "deadLetters" in run ? run.deadLetters : []) {
      lines.push(`      dead-lettered: ${letter.body.slice(0, 120)}${letter.reason ? `: ${letter.reason}` : ""}`);
    }
  }
  return lines.join("\n");
}
