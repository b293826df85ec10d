/**
 * A third-party messaging API on loopback, for ScheduledNotifier's end-to-end test and `npm start`
 * scenario: a paged recipient directory (the producer's source) and `POST /messages`, which checks
 * the bearer token, answers 429 with Retry-After for a while, and counts every delivery so
 * duplicates and losses show. With it, the `recipients` and `send` callbacks a user would write.
 * It stands for no one vendor: the 429 answer follows RFC 6585 section 4
 * (https://www.rfc-editor.org/rfc/rfc6585#section-4), its Retry-After in delay-seconds RFC 9110
 * section 10.2.3 (https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3), the bearer token RFC 6750
 * (https://www.rfc-editor.org/rfc/rfc6750).
 */
import type { NotificationRun, SendContext } from "../../../runtime/scheduled-notifier/contract";
import * as notifierErrors from "../../../runtime/scheduled-notifier/errors";
import { type LoopbackServer, listenOnLoopback } from "../../../testing/loopback-server";

/** The recipient id at a position of the directory: `user-00001`, ... */
export function recipientAt(position: number): string {
  return `user-${String(position).padStart(5, "0")}`;
}

export interface MessagingApiOptions {
  /** Recipients in the directory. */
  recipients: number;
  /** The token `POST /messages` requires as `Authorization: Bearer <token>`. */
  token: string;
  /** From the first message on, answer 429 for this long. @default 0 */
  rateLimitedForMs?: number;
  /** The Retry-After the 429s carry. @default 1 */
  retryAfterSeconds?: number;
  /** Recipients the API always refuses with 400 (e.g. a blocked number). */
  refused?: string[];
}

export interface MessagingApi extends LoopbackServer {
  /** Accepted messages per `<run id>:<recipient id>`. */
  deliveries: Map<string, number>;
  /** Every message request per `<run id>:<recipient id>`: when it came and the status it got. */
  calls: Map<string, { at: number; status: number }[]>;
  /** 429 answers given. */
  rateLimited(): number;
  /** 400 answers given to refused recipients. */
  refusals(): number;
  /** Requests with a missing or wrong token. */
  unauthorized(): number;
  /** The most message requests in flight at once (what `maxConcurrency` bounds). */
  peakConcurrency(): number;
}

const DIRECTORY_PAGE = 50;

/** Starts the fake API: `GET /recipients?cursor=` (pages of 50) and `POST /messages`. */
export async function startMessagingApi(options: MessagingApiOptions): Promise<MessagingApi> {
  const deliveries = new Map<string, number>();
  const calls = new Map<string, { at: number; status: number }[]>();
  const refused = new Set(options.refused ?? []);
  let firstMessageAt: number | undefined;
  let rateLimited = 0;
  let refusals = 0;
  let unauthorized = 0;
  let inFlight = 0;
  let peak = 0;
  const server = await listenOnLoopback(
    (request, body, response) => {
      const url = new URL(request.url ?? "/", "http://127.0.0.1");
      const reply = (status: number, payload: unknown, headers: Record<string, string> = {}, key?: string) => {
        if (key !== undefined) calls.set(key, [...(calls.get(key) ?? []), { at: Date.now(), status }]);
        response.writeHead(status, { "content-type": "application/json", ...headers });
        response.end(JSON.stringify(payload));
      };
      if (request.method === "GET" && url.pathname === "/recipients") {
        const cursor = Number(url.searchParams.get("cursor") ?? 0);
        const end = Math.min(cursor + DIRECTORY_PAGE, options.recipients);
        const recipients = Array.from({ length: end - cursor }, (_, i) => ({
          id: recipientAt(cursor + i + 1),
          locale: "en",
        }));
        const next = end < options.recipients ? `http://${request.headers.host}/recipients?cursor=${end}` : null;
        return reply(200, { recipients, next });
      }
      if (request.method !== "POST" || url.pathname !== "/messages") return reply(404, { error: "not found" });
      if (request.headers.authorization !== `Bearer ${options.token}`) {
        unauthorized++;
        return reply(401, { error: "bad token" });
      }
      inFlight++;
      peak = Math.max(peak, inFlight);
      // A little latency, so concurrent senders overlap as they would against a real API.
      setTimeout(() => {
        inFlight--;
        const message = JSON.parse(body) as { to: string; idempotencyKey: string };
        const key = message.idempotencyKey;
        firstMessageAt ??= Date.now();
        if (Date.now() - firstMessageAt < (options.rateLimitedForMs ?? 0)) {
          rateLimited++;
          return reply(429, { error: "slow down" }, { "retry-after": String(options.retryAfterSeconds ?? 1) }, key);
        }
        if (refused.has(message.to)) {
          refusals++;
          return reply(400, { error: `recipient ${message.to} is blocked` }, {}, key);
        }
        deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        return reply(202, { accepted: true }, {}, key);
      }, 2);
    },
    { keepAliveTimeoutMs: 1_000 },
  );
  return {
    ...server,
    deliveries,
    calls,
    rateLimited: () => rateLimited,
    refusals: () => refusals,
    unauthorized: () => unauthorized,
    peakConcurrency: () => peak,
  };
}

// The user's callbacks against this API, written as a user would.

/** `recipients`: walks the directory's pages and yields each recipient; one page in memory at a time. */
export const directoryRecipients = async function* (run: NotificationRun) {
  let page: string | null = `${process.env.DIRECTORY_URL}/recipients?cursor=0&run=${encodeURIComponent(run.id)}`;
  while (page) {
    const response: Response = await fetch(page);
    if (!response.ok) throw new Error(`GET ${page}: ${response.status}`);
    const body = (await response.json()) as { recipients: { id: string; locale: string }[]; next: string | null };
    yield* body.recipients;
    page = body.next;
  }
};

/** `send`: one POST per recipient; 429 becomes the notifier's rate-limit error. */
export const sendThroughMessagingApi = async (recipient: { id: string | number }, context: SendContext) => {
  const response = await fetch(`${process.env.MESSAGING_API_URL}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${context.secret}`, "content-type": "application/json" },
    body: JSON.stringify({
      to: recipient.id,
      text: `Your reminder for ${context.run.id}`,
      idempotencyKey: context.idempotencyKey,
    }),
  });
  if (response.status === 429) {
    throw new notifierErrors.RateLimitedError(Number(response.headers.get("retry-after") ?? "1"));
  }
  if (!response.ok) throw new Error(`the messaging API answered ${response.status}: ${await response.text()}`);
};

/** Deliveries of one run: who got exactly one message, who got more, who got none. */
export function deliveryReport(api: MessagingApi, runId: string, expected: string[]) {
  const counts = expected.map((id) => api.deliveries.get(`${runId}:${id}`) ?? 0);
  return {
    once: counts.filter((count) => count === 1).length,
    twice: counts.filter((count) => count > 1).length,
    missing: counts.filter((count) => count === 0).length,
  };
}
