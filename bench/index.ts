/**
 * `npm run bench -- <name...>`: runs the named benchmarks (all when none is named). Each measures
 * against a baseline taken in the same run and prints ratios; none fails for speed.
 */
// Loaded with require (not import()) so closure serialization finds the modules in require.cache.
const benchmarks: Record<string, () => { run(): Promise<void> }> = {
  packaging: () => require("./packaging"),
  preview: () => require("./preview"),
  "source-maps": () => ({ run: (require("./packaging") as typeof import("./packaging")).runSourceMaps }),
  fifo: () => require("./fifo"),
  fanout: () => require("./fanout"),
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in benchmarks));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(", ")}; available: ${Object.keys(benchmarks).join(", ")}`);
  }
  for (const name of requested.length > 0 ? requested : Object.keys(benchmarks)) {
    console.log(`\n## ${name}`);
    await benchmarks[name]().run();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
