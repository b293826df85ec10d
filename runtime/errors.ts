/**
 * `queue-patterns/errors`: what an inline callback throws to steer the component's runtime. It has no
 * dependencies, so a callback that imports it bundles only these classes.
 *
 *   import { RejectMessage } from "queue-patterns/errors";
 */
export { RejectMessage } from "./shared/reject-message";
export { RateLimitedError } from "./scheduled-notifier/errors";
