/**
 * The runtime of a plain `LambdaFunction`: the user's callback is the handler. Components with run-time
 * semantics of their own (batching, lifecycle completion) have their own runtime modules instead.
 */
import { runtimeModule } from "../shared/runtime-module";

export type LambdaHandler = (event: unknown, context: unknown) => unknown;

export function createHandler(callbacks: { handler: LambdaHandler }): { handler: LambdaHandler } {
  return { handler: callbacks.handler };
}

/** How a plain LambdaFunction's artifact starts: the `handler` callback is the handler. */
export const plainCallbackRuntime = runtimeModule(__filename, createHandler);
