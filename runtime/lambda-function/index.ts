/**
 * The runtime of a plain `LambdaFunction`: the user's callback is the handler. Components with run-time
 * semantics of their own (batching, lifecycle completion) have their own runtime modules instead.
 */

export type LambdaHandler = (event: unknown, context: unknown) => unknown;

export function createHandler(callbacks: { handler: LambdaHandler }): { handler: LambdaHandler } {
  return { handler: callbacks.handler };
}
