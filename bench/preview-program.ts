/**
 * One `pulumi preview`-like program under the bench mocks, run in a fresh process by bench/preview.ts:
 * `node preview-program.js <fifo-ingester|callback-function> <count>` declares `count` components
 * (or CallbackFunctions), each with a different callback, waits until every resource is registered
 * and prints `{"programMs": ...}`: the time from the first declaration to the last registration
 * (loading the modules is measured apart, as import time).
 */
import { performance } from "node:perf_hooks";
import { installBenchMocks } from "./mocks";

export const SUBJECTS = ["fifo-ingester", "callback-function"] as const;
export type Subject = (typeof SUBJECTS)[number];

/** A callback that differs from every other one by the constant it captures, so nothing is shared. */
function handlerFor(instance: number) {
  return async (message: unknown): Promise<void> => {
    console.log("handled by instance", instance, message);
  };
}

async function main(subject: Subject, count: number): Promise<void> {
  const mocks = installBenchMocks();
  // Loaded with require (not import) after the mocks, as a program loads them; closure serialization
  // needs the modules in require.cache.
  const declare =
    subject === "fifo-ingester"
      ? (() => {
          const { FifoIngester } = require("../components") as typeof import("../components");
          return (i: number) => new FifoIngester(`ingester-${i}`, { handler: handlerFor(i) });
        })()
      : (() => {
          const aws = require("@pulumi/aws") as typeof import("@pulumi/aws");
          return (i: number) => new aws.lambda.CallbackFunction(`callback-${i}`, { callback: handlerFor(i) });
        })();
  const start = performance.now();
  for (let i = 0; i < count; i++) declare(i);
  await mocks.settle();
  const programMs = performance.now() - start;
  console.log(JSON.stringify({ programMs, resources: mocks.resources.length }));
}

if (require.main === module) {
  const [subject, count] = process.argv.slice(2);
  if (!SUBJECTS.includes(subject as Subject) || !(Number(count) > 0)) {
    throw new Error(`usage: preview-program.js <${SUBJECTS.join("|")}> <count>`);
  }
  main(subject as Subject, Number(count)).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
