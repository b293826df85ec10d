/**
 * The benches' own Pulumi mocks: every resource is created with its inputs as its state, an id from
 * its name and, for AWS types, an ARN in the service's format; every function call answers `{}`.
 * Enough for a program to run end to end; tests that check what the providers return use
 * testing/mocks.ts instead.
 */
import * as pulumi from "@pulumi/pulumi";

export const BENCH_ACCOUNT = "123456789012";
export const BENCH_REGION = "us-east-1";

/** Counts registrations so a bench can tell when a program has finished. */
export interface BenchMocks {
  readonly resources: { type: string; name: string; inputs: Record<string, any> }[];
  /** Waits until every registration has finished, including those waiting for artifacts. */
  settle(): Promise<void>;
}

/** Installs the bench mocks (project `queue-patterns-bench`, stack `bench`); call before building resources. */
export function installBenchMocks(): BenchMocks {
  const resources: BenchMocks["resources"] = [];
  pulumi.runtime.setMocks(
    {
      newResource({ type, name, inputs }) {
        resources.push({ type, name, inputs });
        const service = type.startsWith("aws:") ? type.split(/[:/]/)[1] : undefined;
        const arn = service && `arn:aws:${service}:${BENCH_REGION}:${BENCH_ACCOUNT}:${name}`;
        return { id: `${name}-id`, state: { ...inputs, name: inputs.name ?? name, ...(arn ? { arn } : {}) } };
      },
      call: () => ({}),
    },
    "queue-patterns-bench",
    "bench",
    false,
  );
  return {
    resources,
    async settle() {
      const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
      await settings.waitForRPCs();
    },
  };
}

/** An Output's (or plain value's) value. */
export function resolveOutput<T>(output: pulumi.Input<T>): Promise<T> {
  return (pulumi.output(output) as unknown as { promise(): Promise<T> }).promise();
}
