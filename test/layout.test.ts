/**
 * The layout CONTRIBUTING.md describes, checked: one folder per pattern with the same files, no
 * component file over the length limit, and runtime entries that export only their factories.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

const repoRoot = path.resolve(__dirname, "..", "..");
const PATTERNS = [
  "fifo-ingester",
  "scheduled-notifier",
  "persistent-eni-asg",
  "fan-out-ingest",
  "dedup-forwarding-queue",
];
/** The files every pattern folder has: its arguments, its settings, its policies, and the class. */
const PATTERN_FILES = ["args.ts", "settings.ts", "policies.ts", "index.ts"];
const MAX_LINES = 450;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith(".ts") ? [file] : [];
  });
}

describe("the component layout", () => {
  it("gives every pattern one folder under components/ and one under runtime/", () => {
    const folders = (root: string) =>
      fs
        .readdirSync(path.join(repoRoot, root), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    assert.deepEqual(
      folders("components").sort(),
      ["aws", "azure", "core", ...PATTERNS].sort(),
      "components/ holds core/, aws/, azure/ and one folder per pattern",
    );
    for (const pattern of PATTERNS) assert.ok(folders("runtime").includes(pattern), `runtime/${pattern}/`);
  });

  for (const pattern of PATTERNS) {
    it(`components/${pattern}/ has the pattern files`, () => {
      const present = fs.readdirSync(path.join(repoRoot, "components", pattern));
      for (const file of PATTERN_FILES) assert.ok(present.includes(file), `components/${pattern}/${file} is missing`);
    });
  }

  it(`keeps every file under components/ at ${MAX_LINES} lines or fewer`, () => {
    const long = sourceFiles(path.join(repoRoot, "components"))
      .map((file) => ({ file: path.relative(repoRoot, file), lines: fs.readFileSync(file, "utf8").split("\n").length }))
      .filter(({ lines }) => lines > MAX_LINES);
    assert.deepEqual(long, []);
  });

  for (const pattern of [...PATTERNS, "lambda-function"]) {
    it(`runtime/${pattern}/index.ts exports only factories named create<Function>`, () => {
      const entry = require(path.join(repoRoot, "dist", "runtime", pattern, "index.js")) as Record<string, unknown>;
      const exported = Object.entries(entry);
      assert.ok(exported.length > 0);
      for (const [name, value] of exported) {
        assert.match(name, /^create[A-Z]/, `runtime/${pattern}/index.ts exports ${name}`);
        assert.equal(typeof value, "function", name);
      }
    });
  }
});
