/**
 * One way to say "use an existing resource": the argument named after the child takes either the
 * settings to create it, or `{ existing: <its id, ARN or name> }`. The type forbids mixing the two;
 * `checkExisting` says so to callers the compiler cannot see (JavaScript, stack config).
 */
import type { ArgumentChecker } from "./validation";

/** The settings to create a child, or `{ existing }` to use one that exists. */
export type CreateOrUse<Create extends object, Existing> = (Create & { existing?: undefined }) | { existing: Existing };

/** Whether the argument names an existing resource. */
export function usesExisting<Create extends object, Existing>(
  value: CreateOrUse<Create, Existing> | undefined,
): value is { existing: Existing } {
  return typeof value === "object" && value !== null && value.existing !== undefined;
}

/**
 * Records a problem for each creation setting given beside `existing`: they apply only to a child the
 * component creates. `what` names the child ("topic", "namespace"); `alsoForExisting` lists the settings
 * that apply to an existing child too.
 */
export function checkExisting(
  checker: ArgumentChecker,
  argument: string,
  value: object | undefined,
  what: string,
  alsoForExisting: readonly string[] = [],
): void {
  if (typeof value !== "object" || value === null || !("existing" in value) || value.existing === undefined) return;
  for (const [key, setting] of Object.entries(value)) {
    if (key === "existing" || setting === undefined || alsoForExisting.includes(key)) continue;
    checker.check(
      false,
      `${argument}.${key}`,
      setting,
      `applies only to a ${what} the component creates; set it on the existing ${what}, or omit ${argument}.existing.`,
    );
  }
}
