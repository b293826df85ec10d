/**
 * What the FanOutIngest component and its Function App agree on: the user's callbacks and what they
 * are told, the settings the component fixes at construction, and the names the functions are
 * registered under. SDK-free, so the component imports it without loading the runtime's SDKs.
 */

/** What the source callback is told about the run it feeds. */
export interface RunContext {
  runId: string;
  /** What started the run. */
  trigger: "http" | "timer";
  /** The HTTP request's query parameters (empty for the timer), e.g. a date range for the API call. */
  parameters: Record<string, string>;
}

/**
 * How message text is stored. `base64` is what a Functions queue trigger expects by default
 * (`messageEncoding: base64` in host.json); `none` stores the text as is, for consumers that read
 * raw text (SDK clients, or a Functions app set to `none`).
 */
export type MessageEncoding = "base64" | "none";

/** Plain settings the component fixes at construction. */
export interface FanOutOptions {
  /** The app setting prefix of the data account connection (`<connection>__queueServiceUri`, ...). */
  connection: string;
  chunkContainer: string;
  /** The queue Event Grid delivers BlobCreated events to. */
  eventsQueue: string;
  eventsPoisonQueue: string;
  targetQueues: string[];
  /** The poison queue of each target queue, same order. */
  poisonQueues: string[];
  chunkSize: number;
  uploadConcurrency: number;
  concurrency: number;
  checkpointEvery: number;
  messageEncoding: MessageEncoding;
  /** NCRONTAB schedule of the timer-started run; none when unset. */
  schedule?: string;
}

/**
 * The user's callbacks, over the items `source` yields. `toMessage` is a method signature, so the
 * callbacks of a particular item type are callbacks in general: the ingestion function hands it the
 * items read back from their chunk blob, which are what `source` yielded, as JSON.
 */
export interface FanOutCallbacks<TItem = unknown> {
  source: (run: RunContext) => AsyncIterable<TItem> | Iterable<TItem>;
  toMessage?(item: TItem): unknown;
}

/** The registered function names: the component waits for them and its failed-run alarm queries them. */
export const FUNCTION_NAMES = { chunk: "chunk", chunkOnSchedule: "chunkOnSchedule", ingest: "ingest" } as const;
