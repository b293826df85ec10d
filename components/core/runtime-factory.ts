/**
 * The seam between a component and the runtime its artifact starts from. A component names the
 * runtime's entry file by path and one of its factories by name, typed from the module's type alone
 * (`import type`): deploying never loads a runtime or its SDKs, yet a renamed factory, a callback the
 * factory does not take or a wrong option is still a compile error.
 *
 *   import type * as runtime from "../../runtime/fifo-ingester";
 *   const consumer = runtimeFactory<typeof runtime>(require.resolve("../../runtime/fifo-ingester"))("createConsumer");
 *
 * A runtime entry (`runtime/<pattern>/index.ts`) exports one factory per deployed function, named
 * `create<Function>`; a factory receives the user's callbacks and plain JSON options at cold start
 * and returns the module's exports (Lambda: `{ handler }`; Azure factories register their triggers).
 */

/**
 * The callbacks a factory receives: the user's inline functions by argument name (`handler`,
 * `source`, ...), optional ones possibly absent. `object`, so factories can name theirs with an
 * interface; the artifact builder refuses any value that is not a function.
 */
export type Callbacks = object;

type Factory = (callbacks: never, options: never) => unknown;

/** The exports of runtime entry `M` that are factories: functions named `create<Function>`. */
export type FactoryName<M> = {
  [K in keyof M]: K extends `create${string}` ? (M[K] extends Factory ? K : never) : never;
}[keyof M] &
  string;

type CallbacksOf<F> = F extends (callbacks: infer C, ...rest: never[]) => unknown
  ? C extends Callbacks
    ? C
    : never
  : never;
/** The factory's second parameter; `undefined` for a factory that takes no options. */
type OptionsOf<F> = F extends (...args: infer P) => unknown
  ? P extends [] | [unknown]
    ? undefined
    : P extends [unknown, ...infer Rest]
      ? Rest[0]
      : never
  : never;

/** One factory of a runtime entry, by the entry's file and the factory's exported name. */
export interface RuntimeFactory<C extends Callbacks = Callbacks, O = unknown> {
  /**
   * The file the artifact bundles, as `require.resolve` gives it: the entry, or, in an entry that
   * lists several factories, the file that defines this one, so each function's bundle holds only
   * its own code (CommonJS is not tree-shaken).
   */
  readonly module: string;
  /** The factory's exported name, `create<Function>`. */
  readonly factory: string;
  /**
   * Never set: the factory's signature, for the compiler only. A method, so a factory of a
   * particular entry is also a factory in general.
   */
  signature?(callbacks: C, options: O): unknown;
}

/**
 * The factories of runtime entry `M` (its module type), bundled from `module` (`require.resolve` it):
 * the entry's file, or the file in it that defines the factory.
 */
export function runtimeFactory<M>(module: string) {
  return <K extends FactoryName<M>>(factory: K): RuntimeFactory<CallbacksOf<M[K]>, OptionsOf<M[K]>> => ({
    module,
    factory,
  });
}
