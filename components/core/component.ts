/**
 * What every component of this library does the same way, in one place: its type token and owner
 * label, validation before anything is registered, the parent option of its children, and
 * registering its outputs by the names of its own fields. A component file then reads as: args
 * (documented), defaults, validation, the resources, outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { type ArgumentChecker, ownerLabel } from "./validation";

export type Cloud = "aws" | "azure";

export abstract class PatternComponent extends pulumi.ComponentResource {
  /** Starts every message about this instance: `FifoIngester "listings"`. */
  protected readonly owner: string;
  /** `{ parent: this }`, for the component's children. */
  protected readonly child: { parent: pulumi.Resource };

  /**
   * Throws every problem `problems` found before the component is registered, so an invalid
   * component leaves nothing half-declared in the engine.
   */
  protected constructor(
    cloud: Cloud,
    componentName: string,
    name: string,
    problems: ArgumentChecker,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    problems.throwIfAny();
    super(`queue-patterns:${cloud}:${componentName}`, name, {}, opts);
    this.owner = ownerLabel(componentName, name);
    this.child = { parent: this };
  }

  /** Registers the named fields of this component as its outputs: each name is written once, and checked. */
  protected registerOutputsOf(...fields: (keyof this & string)[]): void {
    this.registerOutputs(Object.fromEntries(fields.map((field) => [field, this[field]])));
  }
}

/**
 * Derives a value from what a provider reports once a resource exists (an identity's principal, an
 * endpoint, an ARN). A preview has those unknown, and mocks that echo the inputs (Pulumi's
 * unit-testing guide) leave them out: while any is absent the result is absent too, neither a
 * failure nor an invented value.
 */
export function whenReported<const T extends readonly unknown[], R>(
  reported: T,
  derive: (...values: { [K in keyof T]: NonNullable<T[K]> }) => R,
): R {
  if (reported.some((value) => value === undefined || value === null)) return undefined as R;
  return derive(...(reported as { [K in keyof T]: NonNullable<T[K]> }));
}
