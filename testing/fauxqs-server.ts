/**
 * Starts fauxqs (SNS/SQS emulator, an ES module) on a free loopback port and prints
 * `listening <url>`; stops on SIGTERM. Run as its own process so the emulator never competes with
 * the test's event loop.
 */
async function main(): Promise<void> {
  const { buildApp } = (await import("fauxqs")) as { buildApp: (options: object) => any };
  const app = buildApp({ logger: false, host: "127.0.0.1" });
  const address: string = await app.listen({ port: 0, host: "127.0.0.1" });
  process.stdout.write(`listening ${address}\n`);
  process.on("SIGTERM", () => {
    app.close().then(() => process.exit(0));
  });
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
