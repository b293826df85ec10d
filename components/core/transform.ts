/**
 * The escape hatch every component offers per child resource: a function that receives the args
 * the component built and returns the args to use, for what the component did not foresee.
 */
export type Transform<T> = (args: T) => T;

/** Applies an optional transform to a child's args. */
export function applyTransform<T>(transform: Transform<T> | undefined, args: T): T {
  return transform ? transform(args) : args;
}
