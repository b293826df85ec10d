/**
 * `queue-patterns/fan-out-runs`: what a caller of FanOutIngest reads about a run it started: the
 * run's manifest, for a completeness check.
 */
export { readManifest, type RunManifest } from "./chunking";
