/**
 * The seam between a component and the runtime module its artifact starts from. A runtime module
 * exports one `RuntimeModule` value naming itself and its factory; the component hands that value,
 * with its options, to the artifact builder. The factory is a function value, not its name, so
 * renaming it, or giving the component callbacks or options the factory does not take, fails to
 * compile instead of failing at cold start.
 */

/**
 * The callbacks a factory receives: an object of the user's inline functions by argument name
 * (`handler`, `source`, ...), optional ones possibly absent. `object`, so factories can name theirs
 * with an interface; the artifact builder refuses any value that is not a function.
 */
export type Callbacks = object;

/**
 * A factory's contract: it receives the user's callbacks and plain JSON options at cold start and
 * returns the module's exports (Lambda factories return `{ handler }`; Azure factories register
 * their triggers and return nothing).
 */
export interface RuntimeModule<C extends Callbacks, O> {
  /** The runtime module's own file (`__filename`); the artifact bundles it. */
  readonly module: string;
  /**
   * Its exported factory; the artifact calls it under the name it is exported as. A method
   * signature, so an entry of a particular module is also an entry in general.
   */
  factory(callbacks: C, options: O): unknown;
}

/** Declares how an artifact starts the calling module: `runtimeModule(__filename, createHandler)`. */
export function runtimeModule<C extends Callbacks, O>(
  module: string,
  factory: (callbacks: C, options: O) => unknown,
): RuntimeModule<C, O> {
  return { module, factory };
}
