/**
 * A message its handler can never accept (valid JSON, wrong content): throw `RejectMessage` from
 * the handler with the reason, and the message is dead-lettered at once with that reason, instead
 * of being retried until the queue's delivery limit while the messages behind it (its FIFO group,
 * its session) wait. Any other error is retried as before.
 *
 *   import { RejectMessage } from "queue-patterns/errors";
 *   handler: async (listing) => {
 *     if (typeof listing.price !== "number") throw new RejectMessage("price is not a number");
 *   }
 *
 * FifoIngester's `handler` sends the record to its dead-letter queue, and FanOutIngest's
 * `toMessage` the item to its poison queue, each with the reason, where the queue's alarm sees it.
 * DedupForwardingQueue's `process` cannot yet: its Service Bus trigger completes or abandons the
 * message, and only the trigger's holder of the session lock could dead-letter it, so a
 * RejectMessage there is retried like any error until Service Bus dead-letters the message.
 */
export class RejectMessage extends Error {
  /** Why the message can never be accepted; the dead-lettered message carries it. */
  readonly reason: string;

  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = REJECT_MESSAGE;
    this.reason = reason;
  }
}

const REJECT_MESSAGE = "RejectMessage";

/**
 * The reason when `error` rejects its message, else undefined. Recognised by its name, not with
 * `instanceof`: a handler's captured class is bundled from the user's import, which need not be the
 * runtime's copy, and may be serialized by value, in which case it no longer derives from `Error`;
 * `reason` is set by the constructor itself, so it survives both.
 */
export function rejectionReason(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { name, reason, message } = error as { name?: unknown; reason?: unknown; message?: unknown };
  if (name !== REJECT_MESSAGE) return undefined;
  if (typeof reason === "string") return reason;
  return typeof message === "string" ? message : "";
}
