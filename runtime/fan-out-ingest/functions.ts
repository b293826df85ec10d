/**
 * The FanOutIngest Function App: registers the chunking function (HTTP, and a timer when scheduled)
 * and the ingestion function (queue trigger on the queue Event Grid writes BlobCreated events into).
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { writeRun } from "./chunking";
import { FUNCTION_NAMES, type FanOutCallbacks, type FanOutOptions, type RunContext } from "./contract";
import { defaultMessageText, ingestEvent, type IngestionOptions } from "./ingestion";
import { newRunId, RUN_ID_PATTERN, RUN_ROUTE, type TimerFiring, timerRunId } from "./layout";
import { type StorageClients, storageClients } from "./storage-clients";

export function register(callbacks: FanOutCallbacks, options: FanOutOptions): void {
  let clients: StorageClients | undefined;
  // App settings are read at the first invocation, not at load, so a misconfigured app still starts and says why.
  const storage = () => (clients ??= storageClients(options.connection));
  const toMessage = callbacks.toMessage ?? defaultMessageText;

  const chunk = async (run: RunContext, context: InvocationContext) => {
    const container = storage().blobs.getContainerClient(options.chunkContainer);
    const result = await writeRun(container, run, callbacks.source, options);
    context.log(
      `run ${run.runId}: ${result.manifest.items} items in ${result.manifest.chunks} chunks` +
        (result.alreadyComplete
          ? " (already complete)"
          : result.existingChunks > 0
            ? ` (${result.existingChunks} written before)`
            : ""),
    );
    return result;
  };

  app.http(FUNCTION_NAMES.chunk, {
    methods: ["POST"],
    authLevel: "function",
    route: RUN_ROUTE,
    handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
      const parameters = Object.fromEntries(new URL(request.url).searchParams);
      const runId = parameters.runId ?? newRunId();
      if (!RUN_ID_PATTERN.test(runId)) {
        return { status: 400, jsonBody: { error: `runId ${JSON.stringify(runId)} must match ${RUN_ID_PATTERN}` } };
      }
      try {
        const result = await chunk({ runId, trigger: "http", parameters }, context);
        return { status: 200, jsonBody: result };
      } catch (error) {
        context.error(`run ${runId} failed`, error);
        const message = error instanceof Error ? error.message : String(error);
        // The run id lets the caller resume: chunks already written are kept and not ingested twice.
        return { status: 500, jsonBody: { runId, error: message, resume: `POST /api/${RUN_ROUTE}?runId=${runId}` } };
      }
    },
  });

  const { schedule } = options;
  if (schedule) {
    app.timer(FUNCTION_NAMES.chunkOnSchedule, {
      schedule,
      handler: async (timer: TimerFiring, context: InvocationContext) => {
        await chunk({ runId: timerRunId(timer, schedule), trigger: "timer", parameters: {} }, context);
      },
    });
  }

  let ingestion: IngestionOptions | undefined;
  const ingestionOptions = (): IngestionOptions => {
    if (ingestion) return ingestion;
    const { queues } = storage();
    ingestion = {
      chunkContainer: options.chunkContainer,
      targetQueues: options.targetQueues.map((name) => queues.getQueueClient(name)),
      poisonQueues: options.poisonQueues.map((name) => queues.getQueueClient(name)),
      eventsPoisonQueue: queues.getQueueClient(options.eventsPoisonQueue),
      concurrency: options.concurrency,
      checkpointEvery: options.checkpointEvery,
      messageEncoding: options.messageEncoding,
    };
    return ingestion;
  };

  app.storageQueue(FUNCTION_NAMES.ingest, {
    queueName: options.eventsQueue,
    connection: options.connection,
    handler: async (message: unknown, context: InvocationContext) => {
      const container = storage().blobs.getContainerClient(options.chunkContainer);
      const report = await ingestEvent(container, message, toMessage, ingestionOptions());
      const summary = `${report.outcome} ${report.chunk}: ${report.sent} sent, ${report.poisoned} poisoned, resumed at ${report.resumedFrom}/${report.items}`;
      if (report.outcome === "rejected")
        context.warn(`event rejected to ${options.eventsPoisonQueue}: ${report.problem}`);
      // A warning: FanOutIngest's poison alarm counts the app's warnings about poison queues.
      else if (report.poisoned > 0) context.warn(summary);
      else context.log(summary);
      return report;
    },
  });
}
