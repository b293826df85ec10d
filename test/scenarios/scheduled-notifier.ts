/**
 * ScheduledNotifier end to end on fauxqs, and the local stand-ins its tests share:
 * - a third-party messaging API on loopback: a paged recipient directory (the producer's source) and
 *   `POST /messages`, which checks the bearer token, answers 429 with Retry-After for a while, and
 *   counts every delivery so duplicates and losses show;
 * - the two AWS services fauxqs lacks, on loopback: S3 with conditional writes (`If-None-Match: *`,
 *   `If-Match`) for the delivery ledger, and Secrets Manager's GetSecretValue;
 * - a rig that runs the producer and consumer artifacts in fresh processes against all of them, the
 *   consumer driven by the harness's stand-in for the SQS event source mapping.
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { type Artifact, buildArtifact, zipBytes } from "../../components/artifact";
import { notifierEntries } from "../../components/scheduled-notifier";
import { NOTIFIER_ENV, type NotificationRun, type SendContext } from "../../runtime/scheduled-notifier/contract";
import * as notifierErrors from "../../runtime/scheduled-notifier/errors";
import { ArtifactProcess, type Invocation } from "../harness/artifact-runner";
import { type Fauxqs, fauxqsClientConfig, fauxqsFunctionEnv } from "../harness/emulators";
import { drainQueue, type EventSourceStats } from "../harness/sqs-event-source";
import type { Scenario } from "./scenario";

// ---- small HTTP helpers -------------------------------------------------------------------------

interface LoopbackServer {
  url: string;
  stop(): Promise<void>;
}

async function listen(
  handler: (request: http.IncomingMessage, body: string, response: http.ServerResponse) => void,
): Promise<LoopbackServer> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => handler(request, Buffer.concat(chunks).toString("utf8"), response));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- the third-party messaging API -------------------------------------------------------------

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
  const server = await listen((request, body, response) => {
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
  });
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

// ---- the user's callbacks, written as a user would ----------------------------------------------

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

// ---- S3 (conditional writes) and Secrets Manager ------------------------------------------------

export interface FakeAwsServices extends LoopbackServer {
  /** Ledger objects by `<bucket>/<key>`. */
  objects: Map<string, { body: string; etag: string }>;
  /** GetSecretValue calls answered. */
  secretReads(): number;
}

function s3Error(response: http.ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { "content-type": "application/xml" });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/**
 * S3 (path-style PutObject/GetObject with S3's documented conditional-write rules) and Secrets
 * Manager (GetSecretValue for one secret), on one loopback port. Point the SDK at it with
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
export async function startFakeAwsServices(secret: { arn: string; value: string }): Promise<FakeAwsServices> {
  const objects = new Map<string, { body: string; etag: string }>();
  let secretReads = 0;
  const server = await listen((request, body, response) => {
    const target = request.headers["x-amz-target"];
    if (typeof target === "string" && target.startsWith("secretsmanager.")) {
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      response.setHeader("content-type", "application/x-amz-json-1.1");
      if (target !== "secretsmanager.GetSecretValue" || SecretId !== secret.arn) {
        response.writeHead(400);
        response.end(JSON.stringify({ __type: "ResourceNotFoundException", message: `no secret ${SecretId}` }));
        return;
      }
      secretReads++;
      response.writeHead(200);
      response.end(
        JSON.stringify({
          ARN: secret.arn,
          Name: "api-token",
          SecretString: secret.value,
          VersionId: "v1",
          VersionStages: ["AWSCURRENT"],
        }),
      );
      return;
    }
    const key = decodeURIComponent(new URL(request.url ?? "/", "http://127.0.0.1").pathname.slice(1));
    const existing = objects.get(key);
    if (request.method === "GET") {
      if (!existing) return s3Error(response, 404, "NoSuchKey", "The specified key does not exist.");
      response.writeHead(200, { etag: existing.etag, "content-type": "application/json" });
      response.end(existing.body);
      return;
    }
    if (request.method !== "PUT") return s3Error(response, 405, "MethodNotAllowed", "not supported here");
    const ifNoneMatch = request.headers["if-none-match"];
    const ifMatch = request.headers["if-match"];
    if (ifNoneMatch === "*" && existing) {
      return s3Error(
        response,
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
      );
    }
    if (ifMatch !== undefined && (!existing || existing.etag !== ifMatch)) {
      return s3Error(
        response,
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
      );
    }
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    objects.set(key, { body, etag });
    response.writeHead(200, { etag });
    response.end();
  });
  return { ...server, objects, secretReads: () => secretReads };
}

// ---- the rig ------------------------------------------------------------------------------------

export interface NotifierRigOptions {
  fauxqs: Fauxqs;
  artifacts: { producer: Artifact; consumer: Artifact };
  api: MessagingApi;
  token: string;
  /** The jobs queue's maxReceiveCount; must match what the consumer artifact was built with. */
  maxReceiveCount: number;
  /** Names the queues, so rigs sharing one fauxqs never meet. */
  prefix: string;
}

export interface NotifierRig {
  sqs: SQSClient;
  jobsQueueUrl: string;
  deadLetterQueueUrl: string;
  aws: FakeAwsServices;
  /** Invokes the producer as Scheduler would for the run scheduled at `scheduledTime`. */
  runProducer(scheduledTime: string): Promise<Invocation>;
  /** Drives the consumer from the jobs queue until it is empty (the event source mapping's job). */
  drain(concurrency: number): Promise<EventSourceStats>;
  /** Takes every message out of the dead-letter queue. */
  deadLetters(): Promise<Message[]>;
  /** The consumer's log lines of every invocation so far. */
  consumerLogs: string[];
  stop(): Promise<void>;
}

const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:notifier-api-token-AbCdEf";

/** Queues on fauxqs, the fake services, and both artifacts running in their own processes. */
export async function startNotifierRig(options: NotifierRigOptions): Promise<NotifierRig> {
  const sqs = new SQSClient(fauxqsClientConfig(options.fauxqs));
  const suffix = `${options.prefix}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  const { QueueUrl: deadLetterQueueUrl = "" } = await sqs.send(
    new CreateQueueCommand({ QueueName: `notifier-dead-letters-${suffix}` }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const { QueueUrl: jobsQueueUrl = "" } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `notifier-jobs-${suffix}`,
      Attributes: {
        VisibilityTimeout: "180",
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: String(options.maxReceiveCount),
        }),
      },
    }),
  );
  const aws = await startFakeAwsServices({ arn: SECRET_ARN, value: options.token });
  const env = {
    ...fauxqsFunctionEnv(options.fauxqs),
    AWS_ENDPOINT_URL_S3: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    DIRECTORY_URL: options.api.url,
    MESSAGING_API_URL: options.api.url,
    [NOTIFIER_ENV.jobsQueueUrl]: jobsQueueUrl,
    [NOTIFIER_ENV.deadLetterQueueUrl]: deadLetterQueueUrl,
  };
  const producer = await ArtifactProcess.start(zipBytes(options.artifacts.producer), "aws-lambda", env);
  const consumer = await ArtifactProcess.start(zipBytes(options.artifacts.consumer), "aws-lambda", {
    ...env,
    [NOTIFIER_ENV.secretArn]: SECRET_ARN,
    [NOTIFIER_ENV.ledgerBucket]: "notifier-ledger",
  });
  const consumerLogs: string[] = [];
  return {
    sqs,
    jobsQueueUrl,
    deadLetterQueueUrl,
    aws,
    consumerLogs,
    runProducer: (scheduledTime) =>
      producer.invoke({
        scheduledTime,
        scheduleArn: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/notifier",
        executionId: Math.random().toString(16).slice(2),
        attemptNumber: "1",
      }),
    drain: (concurrency) =>
      drainQueue({
        client: sqs,
        queueUrl: jobsQueueUrl,
        batchSize: 10,
        concurrency,
        idleMs: 2500,
        invoke: async (event) => {
          const invocation = await consumer.invoke(event);
          consumerLogs.push(...invocation.logs);
          if (invocation.error) throw new Error(`${invocation.error.name}: ${invocation.error.message}`);
          return invocation.result;
        },
      }),
    async deadLetters() {
      const messages: Message[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: deadLetterQueueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 300,
            MessageAttributeNames: ["All"],
          }),
        );
        if (Messages.length === 0) return messages;
        messages.push(...Messages);
      }
    },
    async stop() {
      await Promise.all([producer.stop(), consumer.stop(), aws.stop()]);
      sqs.destroy();
    },
  };
}

/** Builds the two artifacts from the scenario's callbacks, as the component would. */
export async function buildNotifierArtifacts(
  maxReceiveCount: number,
): Promise<{ producer: Artifact; consumer: Artifact }> {
  const entries = notifierEntries({ maxReceiveCount });
  const spec = { owner: 'ScheduledNotifier "scenario"', host: "aws-lambda" as const, nodeMajor: 22 };
  const [producer, consumer] = await Promise.all([
    buildArtifact({ ...spec, entry: entries.producer, callbacks: { recipients: directoryRecipients } }),
    buildArtifact({ ...spec, entry: entries.consumer, callbacks: { send: sendThroughMessagingApi } }),
  ]);
  return { producer, consumer };
}

/** Deliveries of one run: who got exactly one message, who got more, who got none. */
export function deliveryReport(api: MessagingApi, runId: string, expected: string[]) {
  const counts = expected.map((id) => api.deliveries.get(`${runId}:${id}`) ?? 0);
  return {
    once: counts.filter((count) => count === 1).length,
    twice: counts.filter((count) => count > 1).length,
    missing: counts.filter((count) => count === 0).length,
  };
}

// ---- the scenario -------------------------------------------------------------------------------

export const scenario: Scenario = {
  component: "ScheduledNotifier",
  description:
    "one scheduled run for a few hundred recipients: producer -> SQS (fauxqs) -> rate-limited consumer -> a messaging API that answers 429 for a while",
  async run(context) {
    const total = Number(process.env.NOTIFIER_SCENARIO_RECIPIENTS ?? 300);
    const refused = [recipientAt(7), recipientAt(150)];
    const maxReceiveCount = 4;
    const token = "scenario-token";
    const api = await startMessagingApi({
      recipients: total,
      token,
      rateLimitedForMs: 1500,
      retryAfterSeconds: 1,
      refused,
    });
    const rig = await startNotifierRig({
      fauxqs: await context.fauxqs(),
      artifacts: await buildNotifierArtifacts(maxReceiveCount),
      api,
      token,
      maxReceiveCount,
      prefix: "scenario",
    });
    try {
      const scheduledTime = "2025-03-25T09:00:00Z";
      const produced = await rig.runProducer(scheduledTime);
      if (produced.error) throw new Error(`the producer failed: ${produced.error.message}`);
      const summary = produced.result as { enqueued: number };
      context.log(`producer: run ${scheduledTime}, ${summary.enqueued} jobs enqueued from the paged directory`);

      const drained = await rig.drain(4);
      const deadLetters = await rig.deadLetters();
      const expected = Array.from({ length: total }, (_, i) => recipientAt(i + 1)).filter(
        (id) => !refused.includes(id),
      );
      const report = deliveryReport(api, scheduledTime, expected);
      context.log(
        `consumer: ${drained.records} deliveries in ${drained.batches} batches over ${(drained.elapsedMs / 1000).toFixed(1)} s, ` +
          `at most ${api.peakConcurrency()} API calls at once (maxConcurrency 4)`,
      );
      context.log(
        `sent ${report.once}, retried ${drained.failedRecords} (${api.rateLimited()} answers were 429, ${api.refusals()} were 400), ` +
          `dead-lettered ${deadLetters.length}`,
      );
      for (const message of deadLetters) {
        context.log(`  dead letter: ${message.MessageAttributes?.reason?.StringValue}`);
      }

      const retried = await rig.runProducer(scheduledTime);
      const before = api.deliveries.size;
      const redrained = await rig.drain(4);
      const afterRetry = deliveryReport(api, scheduledTime, expected);
      context.log(
        `retried run (same scheduled time): ${(retried.result as { enqueued: number } | null)?.enqueued ?? 0} jobs enqueued again, ` +
          `${redrained.records} consumed, ${api.deliveries.size - before} new notifications, ${afterRetry.twice} recipients notified twice`,
      );

      const ok =
        report.once === expected.length &&
        report.missing === 0 &&
        afterRetry.twice === 0 &&
        deadLetters.length === refused.length &&
        api.unauthorized() === 0;
      return {
        ok,
        summary: `${report.once}/${expected.length} notified exactly once, ${deadLetters.length} dead-lettered with reasons, 0 notified twice after a retried run`,
      };
    } finally {
      await rig.stop();
      await api.stop();
    }
  },
};
