/**
 * Argument validation shared by every component: collect every problem, then throw once, so a
 * user fixes all of them in one round instead of one `pulumi preview` per mistake.
 */
import * as pulumi from "@pulumi/pulumi";

/** A problem with one argument: which one, the value seen, and how to fix it. */
export interface ArgumentProblem {
  argument: string;
  value: unknown;
  fix: string;
}

/** Thrown at construction when arguments are invalid; the message lists every problem. */
export class InvalidArgumentsError extends Error {
  readonly problems: readonly ArgumentProblem[];

  constructor(owner: string, problems: readonly ArgumentProblem[]) {
    super(problems.map((p) => `${owner}: ${p.argument} ${describeValue(p.value)} ${p.fix}`).join("\n"));
    this.name = "InvalidArgumentsError";
    this.problems = problems;
  }
}

/** Renders a value the way the error messages quote it: strings quoted, objects as JSON. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "(a function)";
  if (value === undefined) return "(missing)";
  if (pulumi.Output.isInstance(value)) return "(an Output)";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Collects problems; `throwIfAny` raises one error naming all of them. */
export class ArgumentChecker {
  private readonly problems: ArgumentProblem[] = [];

  constructor(private readonly owner: string) {}

  /** Records a problem unless `ok`. */
  check(ok: boolean, argument: string, value: unknown, fix: string): this {
    if (!ok) this.problems.push({ argument, value, fix });
    return this;
  }

  /**
   * An integer within [min, max]; `undefined` passes (defaults are applied before validation).
   * `rule` names who sets the range: `SQS FIFO allows` gives "is out of range; SQS FIFO allows 1..10."
   */
  integerInRange(
    argument: string,
    value: number | undefined,
    min: number,
    max: number,
    rule = "the allowed range is",
  ): this {
    if (value === undefined) return this;
    const ok = Number.isInteger(value) && value >= min && value <= max;
    return this.check(ok, argument, value, `is out of range; ${rule} ${min}..${max}.`);
  }

  /** Whether a problem was recorded for `argument`: later checks that need a valid value skip it. */
  has(argument: string): boolean {
    return this.problems.some((problem) => problem.argument === argument);
  }

  /** Adds another checker's problems (a building block's checks of the args it was given). */
  include(other: ArgumentChecker): this {
    this.problems.push(...other.list());
    return this;
  }

  /** Problems found so far, for pure validators that return instead of throwing. */
  list(): readonly ArgumentProblem[] {
    return this.problems;
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new InvalidArgumentsError(this.owner, this.problems);
  }
}

/**
 * What a pattern's settings step (`<pattern>/settings.ts`) returns: the arguments with every default
 * applied, and every problem found, in one pass; the class hands `problems` to `PatternComponent`.
 */
export interface Settled<S> {
  readonly settings: S;
  readonly problems: ArgumentChecker;
}

/** The prefix every message of a component instance starts with: `FifoIngester "listings"`. */
export function ownerLabel(componentType: string, name: string): string {
  return `${componentType} ${JSON.stringify(name)}`;
}

/**
 * A map argument (`environment`) as an Output that fails the deployment when a value in it is a
 * secret: environment variables and app settings are stored and shown in plain text, so a secret
 * there would leak. Whether an Output is secret is known only once it settles, so this cannot throw
 * at construction; like a captured secret (artifact.ts), it fails the resource that takes the map,
 * with a message naming the key and `fix`.
 */
export function refuseSecretValues<T>(
  owner: string,
  argument: string,
  values: pulumi.Input<Record<string, pulumi.Input<T>>>,
  fix: string,
): pulumi.Output<Record<string, T>> {
  const checked = (async () => {
    const checker = new ArgumentChecker(owner);
    if (pulumi.Output.isInstance(values) || values instanceof Promise) {
      const whole = pulumi.output(values);
      checker.check(!(await pulumi.isSecret(whole)), argument, whole, `is a secret; ${fix}`);
    } else {
      for (const [key, value] of Object.entries(values)) {
        const secret = pulumi.Output.isInstance(value) && (await pulumi.isSecret(value as pulumi.Output<T>));
        checker.check(!secret, `${argument}.${key}`, value, `is a secret; ${fix}`);
      }
    }
    checker.throwIfAny();
    return values;
  })();
  return pulumi.output(checked) as pulumi.Output<Record<string, T>>;
}
