/**
 * An error raised inside an Output that nothing awaits (a check that can only run once a value
 * settles, such as whether it is secret) reaches the program as an unhandled rejection: Pulumi's
 * language host reports it and fails the deployment. Node's test runner would fail whichever test
 * is running instead, so a test that expects such a failure collects those errors with this.
 */
export async function deploymentErrors(run: () => Promise<void>): Promise<string[]> {
  const errors: string[] = [];
  const runnerListeners = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", (reason) => errors.push(reason instanceof Error ? reason.message : String(reason)));
  try {
    await run();
    // Rejections are reported after the microtask queue drains.
    await new Promise((done) => setTimeout(done, 50));
  } finally {
    process.removeAllListeners("unhandledRejection");
    for (const listener of runnerListeners) process.on("unhandledRejection", listener);
  }
  return errors;
}
