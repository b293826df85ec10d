/**
 * `npm test`: starts one fauxqs and one Azurite for the whole suite, runs every compiled test file
 * with Node's test runner (each file in its own process), then stops the emulators.
 * Arguments filter the files: `npm test -- fifo` runs the files whose path below the tests' folder
 * contains "fifo" (not the checkout's own path, which may contain anything).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startAzurite, startFauxqs } from "../testing/emulators";

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith(".test.js") ? [full] : [];
  });
}

/** The oldest Node.js major the suite supports (package.json engines). */
const OLDEST_NODE_MAJOR = 22;

async function main(): Promise<number> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < OLDEST_NODE_MAJOR) {
    throw new Error(
      `the suite runs on Node.js ${OLDEST_NODE_MAJOR} or newer; this is ${process.version} (${process.execPath}). ` +
        "Run it through npm (`npm test`): on Linux (x64, arm64) and Intel macOS, npm ci installs the official Node.js 22 and 24 " +
        "builds (test/node-builds) and npm scripts find them first on PATH; the npm registry has none for Apple silicon, " +
        "so there install Node.js 22 or newer.",
    );
  }
  console.log(`# test runner on Node.js ${process.version} (${process.execPath})`);
  const filters = process.argv.slice(2);
  const files = testFiles(__dirname)
    .filter((file) => filters.length === 0 || filters.some((filter) => path.relative(__dirname, file).includes(filter)))
    .sort();
  if (files.length === 0) throw new Error(`no test files match ${JSON.stringify(filters)}`);
  const [fauxqs, azurite] = await Promise.all([startFauxqs(), startAzurite()]);
  try {
    const child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...files], {
      stdio: "inherit",
      env: {
        ...process.env,
        QP_FAUXQS_ENDPOINT: fauxqs.endpoint,
        QP_AZURITE_BLOB: azurite.blobEndpoint,
        QP_AZURITE_QUEUE: azurite.queueEndpoint,
      },
    });
    return await new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  } finally {
    await Promise.all([fauxqs.stop(), azurite.stop()]);
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
