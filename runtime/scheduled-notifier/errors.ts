/**
 * The error a `send` callback throws when the third-party API says "too many requests, retry after
 * N seconds". The consumer then hides the job for N seconds instead of retrying it at once.
 *
 * Import it from `queue-patterns/errors` inside an inline callback: that
 * module has no dependencies, so the packager bundles it (the package's main entry would drag in
 * @pulumi/*, which a callback cannot capture).
 */
export class RateLimitedError extends Error {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, message = `rate limited; retry after ${retryAfterSeconds} s`) {
    super(message);
    this.name = "RateLimitedError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Whether a thrown value is a rate-limit signal. Checked by shape, not `instanceof`: a callback's
 * captured copy of the class is a different class object from the runtime's.
 */
export function isRateLimitedError(error: unknown): error is { name: string; retryAfterSeconds: number } {
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as { name?: unknown; retryAfterSeconds?: unknown };
  return (
    candidate.name === "RateLimitedError" &&
    typeof candidate.retryAfterSeconds === "number" &&
    Number.isFinite(candidate.retryAfterSeconds)
  );
}

/** SQS limits a message's visibility timeout to 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** A retry-after as a visibility timeout: whole seconds, at least 1 (0 would redeliver at once), at most 12 h. */
export function deferralSeconds(retryAfterSeconds: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(retryAfterSeconds)));
}

/** A thrown value as one line for logs and dead-letter reasons. */
export function describeError(error: unknown): string {
  if (isRateLimitedError(error)) return `rate limited; retry after ${error.retryAfterSeconds} s`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === "object" && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (typeof message === "string") return `${typeof name === "string" ? name : "Error"}: ${message}`;
  }
  return String(error);
}
