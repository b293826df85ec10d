/**
 * `npm start -- --plan-only`: the dev stack's offline plan as `npm start` prints it (test/start.ts),
 * with progress while the program compiles and runs, the plan as `pulumi preview` prints one, the
 * policies and role grants visible, the disabled components listed, and the in-process comparison.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("npm start -- --plan-only", () => {
  let output: string;

  before(async () => {
    const start = path.join(__dirname, "start.js");
    ({ stdout: output } = await run(process.execPath, [start, "--plan-only"], { maxBuffer: 64 * 1024 * 1024 }));
  });

  it("says what it is doing while the program compiles and runs, before the plan", () => {
    const plan = output.indexOf("Previewing update (dev)");
    assert.ok(plan > 0, output);
    assert.match(output.slice(0, plan), /\] compiling the program with TypeScript \d/);
    assert.match(output.slice(0, plan), /\] declaring queue-patterns:aws:FifoIngester fifoIngester/);
    assert.match(output.slice(0, plan), /\] the program finished: \d+ resources/);
  });

  it("prints the tree with a create line per resource, type tokens as Pulumi shows them, and the summary", () => {
    const rows = output.split("\n").filter((line) => line.startsWith(" +   "));
    assert.match(rows[0], /^ \+ {3}pulumi:pulumi:Stack +queue-patterns-dev +create$/);
    assert.ok(rows.some((row) => /^ \+ {3}├─ queue-patterns:aws:FifoIngester +fifoIngester +create$/.test(row)));
    assert.ok(rows.some((row) => /^ \+ {3}│ {2}├─ aws:sqs:Queue +fifoIngester-queue +create$/.test(row)));
    assert.ok(!rows.some((row) => row.includes("aws:sqs/queue:Queue")), "no module file part in a type token");
    assert.match(output, new RegExp(`Resources:\\n {4}\\+ ${rows.length} to create\\n`));
  });

  it("shows the queue, topic and role policies and the role grants, and no unknown as an empty value", () => {
    for (const policy of ["fifoIngester-queue-policy", "fifoIngester-topic-policy", "fifoIngester-consumer-policy"]) {
      const at = output.search(new RegExp(` ${policy} +create\n`));
      assert.ok(at > 0, policy);
      assert.match(output.slice(at, at + 2_000), /policy *: \(json\) \{\n(.*\n){0,4}.*Statement/, policy);
    }
    assert.match(output, /roleDefinitionId: ".*\/roleDefinitions\/[0-9a-f-]{36}" \(Storage Blob Data Contributor\)/);
    assert.match(output, /principalId +: output<string> \(fanOutIngest-functions-app\.identity\.principalId\)/);
    assert.doesNotMatch(output, /(dimensions|environment) +: \{\}/);
    assert.doesNotMatch(output, /\[null\]/);
  });

  it("lists the components Pulumi.dev.yaml disables", () => {
    assert.match(
      output,
      /Disabled \(enabled: false\), nothing planned:\n {4}queue-patterns:persistentEniAsg {2}\(Pulumi\.dev\.yaml\)\n {4}queue-patterns:scheduledNotifier {2}\(Pulumi\.dev\.yaml\)/,
    );
  });

  it("plans the same resources in-process and stops before the scenarios", () => {
    assert.match(output, /in-process plan of the same config under Pulumi mocks: \d+ resources, the same set/);
    assert.doesNotMatch(output, /== Scenario:/);
  });
});
