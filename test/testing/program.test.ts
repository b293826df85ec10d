/**
 * exerciseProgram on a stack program with some components enabled by its stack config: the
 * program run under the testing mocks, every declared component exercised with sample events, the
 * disabled ones absent.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ComponentExercise,
  exerciseProgram,
  type FifoIngesterRun,
  type ProgramExercise,
  type ScheduledNotifierRun,
} from "../../testing";

const entry = path.resolve(__dirname, "..", "fixtures", "testing-program", "index.js");

describe("exerciseProgram on a stack whose config enables FifoIngester, ScheduledNotifier and PersistentEniAsg", () => {
  const programDir = fs.mkdtempSync(path.join(os.tmpdir(), "qp-program-"));
  const progress: string[] = [];
  let result: ProgramExercise;
  before(async () => {
    fs.writeFileSync(
      path.join(programDir, "Pulumi.yaml"),
      `name: testing-program\nmain: ${JSON.stringify(entry)}\nruntime: nodejs\n`,
    );
    fs.writeFileSync(
      path.join(programDir, "Pulumi.local.yaml"),
      [
        "config:",
        "  testing-program:fifoIngester: true",
        "  testing-program:scheduledNotifier: true",
        "  testing-program:fanOutIngest: false",
        "  testing-program:persistentEniAsg: true",
        "  testing-program:apiToken: a-token",
        "",
      ].join("\n"),
    );
    result = await exerciseProgram(programDir, { onProgress: (line) => progress.push(line) });
  });
  after(() => fs.rmSync(programDir, { recursive: true, force: true }));

  const named = (component: string): ComponentExercise | undefined =>
    result.components.find((exercise) => exercise.component === component);

  it("runs the program as its only stack, with that stack's config", () => {
    assert.equal(result.project, "testing-program");
    assert.equal(result.stack, "local");
    assert.equal(result.entry, entry);
    assert.deepEqual(
      result.components.map((exercise) => `${exercise.component} ${exercise.name}`),
      ["FifoIngester orders", "ScheduledNotifier digest", "PersistentEniAsg gateway"],
      "in declaration order; the disabled FanOutIngest is absent",
    );
  });

  it("exercises FifoIngester with the sample records through its handler", () => {
    const run = named("FifoIngester") as FifoIngesterRun;
    assert.ok(!("error" in run), JSON.stringify(run));
    assert.equal(run.published, 2);
    assert.deepEqual(
      run.deliveries.map((delivery) => delivery.outcome),
      ["processed", "processed"],
    );
    assert.ok(run.invocations.flatMap((invocation) => invocation.logs).some((line) => line.includes("sample-1")));
  });

  it("exercises ScheduledNotifier with one scheduled run through recipients and send", () => {
    const run = named("ScheduledNotifier") as ScheduledNotifierRun;
    assert.ok(!("error" in run), JSON.stringify(run));
    assert.equal(run.jobs.length, 1);
    assert.match(String(run.jobs[0].recipient.id), /^reader-of-\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
    assert.equal(run.sent, 1);
  });

  it("says which components it does not run locally, and why", () => {
    const skipped = named("PersistentEniAsg");
    assert.ok(skipped && "skipped" in skipped);
    assert.match(skipped.skipped, /EC2/);
  });

  it("reports progress while emulators start and artifacts build", () => {
    assert.ok(
      progress.some((line) => line.startsWith("running ")),
      progress.join("\n"),
    );
    assert.ok(
      progress.some((line) => /starting fauxqs/.test(line)),
      progress.join("\n"),
    );
    assert.ok(
      progress.some((line) => /building the artifact/.test(line)),
      progress.join("\n"),
    );
    assert.ok(
      progress.some((line) => /^components: FifoIngester "orders"/.test(line)),
      progress.join("\n"),
    );
  });
});
