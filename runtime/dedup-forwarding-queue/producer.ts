/**
 * The producer side of DedupForwardingQueue, for any Node.js program with `@azure/service-bus`:
 * every observation of a data set schedules one processing message for the end of its period;
 * the processing queue's duplicate detection keeps only the first per data set and period.
 *
 * ```ts
 * const client = new ServiceBusClient(config.fullyQualifiedNamespace, new DefaultAzureCredential());
 * const scheduler = new ProcessingScheduler(client, config); // config: the component's producerConfig
 * await scheduler.scheduleProcessing({ dataSetId: "station-7", observedAt: new Date(), window: "daily" });
 * ```
 */
import { createHash } from "node:crypto";
import type { ServiceBusMessage, ServiceBusSender } from "@azure/service-bus";
import { PROCESSING_REQUEST_CONTENT_TYPE, type ProcessingRequest } from "./message";
import { isIanaTimeZone } from "../shared/time-zone";
import { periodOf } from "./period";

/** One window: the processing queue its messages go to, its period length and its duplicate-detection window. */
export interface ProcessingWindowConfig {
  queueName: string;
  periodSeconds: number;
  /**
   * The processing queue's duplicate-detection window. With it, an observation that comes after the
   * period's message id may have left the window is reported as late instead of scheduling a
   * second run; without it (configurations from before it existed) every observation is sent.
   */
  duplicateWindowSeconds?: number;
}

/** What a producer needs to know; the component exports it as `producerConfig`. */
export interface ProcessingScheduleConfig {
  /** IANA time zone the periods follow, e.g. "UTC" or "Europe/London". */
  timeZone: string;
  /** How long after the end of a period its run is scheduled. */
  scheduleDelaySeconds: number;
  windows: Record<string, ProcessingWindowConfig>;
}

export interface Observation {
  dataSetId: string;
  /** When the data point was observed: a Date, an ISO 8601 string or epoch milliseconds. */
  observedAt: Date | string | number;
  /** A window name from the configuration, e.g. "daily". */
  window: string;
}

/**
 * What was scheduled (or deduplicated by the processing queue: a producer cannot tell which), or,
 * with status "late", what was not sent because the processing queue may no longer remember the
 * period's message id: sending it could run the period a second time.
 */
export interface ScheduledProcessing {
  status: "scheduled" | "late";
  queueName: string;
  /** MessageId = SessionId = `<dataSetId>-<period>`, hashed to fit 128 characters. */
  messageId: string;
  sessionId: string;
  period: string;
  periodStart: Date;
  periodEnd: Date;
  scheduledEnqueueTime: Date;
}

/** Service Bus caps MessageId and SessionId at 128 characters. */
export const MAX_ID_LENGTH = 128;
/** The hex digits of SHA-256 kept when a data set id is too long to use whole (128 bits). */
const HASH_HEX_DIGITS = 32;

function hasControlCharacters(text: string): boolean {
  return [...text].some((character) => {
    const code = character.charCodeAt(0);
    return code < 0x20 || code === 0x7f;
  });
}

/** A bad observation; the message names the field, the value and the fix. */
export class InvalidObservationError extends Error {
  constructor(message: string) {
    super(`scheduleProcessing: ${message}`);
    this.name = "InvalidObservationError";
  }
}

/**
 * `<dataSetId>-<period>` when that fits 128 characters. Otherwise the data set id becomes its
 * longest prefix that fits, `~`, and the first 32 hex digits of its SHA-256, so the id stays
 * unique per data set, deterministic across producers, and readable.
 */
export function processingId(dataSetId: string, period: string): string {
  const whole = `${dataSetId}-${period}`;
  if (whole.length <= MAX_ID_LENGTH) return whole;
  const hash = createHash("sha256").update(dataSetId, "utf8").digest("hex").slice(0, HASH_HEX_DIGITS);
  let prefixLength = MAX_ID_LENGTH - period.length - hash.length - 2;
  // Never split a surrogate pair: half a character is not valid UTF-8 on the wire.
  const lastKept = dataSetId.charCodeAt(prefixLength - 1);
  if (lastKept >= 0xd800 && lastKept <= 0xdbff) prefixLength -= 1;
  return `${dataSetId.slice(0, prefixLength)}~${hash}-${period}`;
}

function checkDataSetId(dataSetId: unknown): string {
  if (typeof dataSetId !== "string") {
    throw new InvalidObservationError(
      `dataSetId ${JSON.stringify(dataSetId) ?? String(dataSetId)} is not a string; pass the data set's id.`,
    );
  }
  if (dataSetId.trim() === "") {
    throw new InvalidObservationError(`dataSetId ${JSON.stringify(dataSetId)} is empty; pass the data set's id.`);
  }
  if (hasControlCharacters(dataSetId)) {
    throw new InvalidObservationError(
      `dataSetId ${JSON.stringify(dataSetId)} contains control characters; use printable characters only.`,
    );
  }
  return dataSetId;
}

function checkObservedAt(observedAt: unknown): Date {
  const valid = observedAt instanceof Date || typeof observedAt === "string" || typeof observedAt === "number";
  const instant = valid ? new Date(observedAt as Date | string | number) : new Date(Number.NaN);
  if (Number.isNaN(instant.getTime())) {
    throw new InvalidObservationError(
      `observedAt ${JSON.stringify(observedAt) ?? String(observedAt)} is not a point in time; pass a Date, an ISO 8601 string or epoch milliseconds.`,
    );
  }
  return instant;
}

function checkWindow(config: ProcessingScheduleConfig, window: unknown): ProcessingWindowConfig {
  const known = Object.keys(config.windows);
  if (typeof window !== "string" || !Object.hasOwn(config.windows, window)) {
    throw new InvalidObservationError(
      `window ${JSON.stringify(window) ?? String(window)} is not configured; use one of ${known.map((w) => JSON.stringify(w)).join(", ")}.`,
    );
  }
  return config.windows[window];
}

/** The message an observation schedules, where and when; pure, for tests and custom senders. */
export function planProcessing(
  config: ProcessingScheduleConfig,
  observation: Observation,
): { plan: ScheduledProcessing; message: ServiceBusMessage } {
  const dataSetId = checkDataSetId(observation.dataSetId);
  const observedAt = checkObservedAt(observation.observedAt);
  const window = checkWindow(config, observation.window);
  const period = periodOf(observedAt, window.periodSeconds, config.timeZone);
  const id = processingId(dataSetId, period.label);
  const request: ProcessingRequest = {
    dataSetId,
    period: period.label,
    window: observation.window,
    periodStart: period.start.toISOString(),
    periodEnd: period.end.toISOString(),
  };
  const scheduledEnqueueTime = new Date(period.end.getTime() + config.scheduleDelaySeconds * 1000);
  return {
    plan: {
      status: "scheduled",
      queueName: window.queueName,
      messageId: id,
      sessionId: id,
      period: period.label,
      periodStart: period.start,
      periodEnd: period.end,
      scheduledEnqueueTime,
    },
    message: {
      messageId: id,
      sessionId: id,
      subject: observation.window,
      contentType: PROCESSING_REQUEST_CONTENT_TYPE,
      body: request,
    },
  };
}

/**
 * Whether the period's message id may have left the processing queue's duplicate-detection window.
 * The first message of a period can be sent at its start at the earliest, so from start + window on
 * the queue may have forgotten it and would accept (and run) this one again.
 */
export function isLate(window: ProcessingWindowConfig, plan: ScheduledProcessing, now: Date): boolean {
  if (window.duplicateWindowSeconds === undefined) return false;
  return now.getTime() > plan.periodStart.getTime() + window.duplicateWindowSeconds * 1000;
}

/** Anything that makes senders by queue name: a `ServiceBusClient`, or a fake in tests. */
export interface SenderFactory {
  createSender(queueName: string): Pick<ServiceBusSender, "scheduleMessages" | "close">;
}

/** Schedules processing runs; keeps one sender per processing queue. Close it when done. */
export class ProcessingScheduler {
  private readonly senders = new Map<string, Pick<ServiceBusSender, "scheduleMessages" | "close">>();

  private readonly now: () => Date;

  /** `options.now` is the clock that decides lateness (tests pass a fake one). */
  constructor(
    private readonly client: SenderFactory,
    private readonly config: ProcessingScheduleConfig,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    if (!isIanaTimeZone(config.timeZone)) {
      throw new InvalidObservationError(
        `the configuration's timeZone ${JSON.stringify(config.timeZone)} is not an IANA time zone.`,
      );
    }
    if (Object.keys(config.windows ?? {}).length === 0) {
      throw new InvalidObservationError("the configuration has no windows; pass the component's producerConfig.");
    }
  }

  /**
   * Schedules the processing message of an observation's period. Sending the same period again is
   * what the pattern relies on: the processing queue drops it as a duplicate. The sequence number
   * Service Bus returns is not kept: a duplicate gets one too, so it cannot cancel anything.
   * An observation that comes once the period's id may have left the duplicate-detection window
   * (its run is due or done) is not sent: the result has status "late", for the caller to handle.
   */
  async scheduleProcessing(observation: Observation): Promise<ScheduledProcessing> {
    const { plan, message } = planProcessing(this.config, observation);
    if (isLate(this.config.windows[observation.window], plan, this.now())) return { ...plan, status: "late" };
    await this.senderFor(plan.queueName).scheduleMessages(message, plan.scheduledEnqueueTime);
    return plan;
  }

  async close(): Promise<void> {
    const senders = [...this.senders.values()];
    this.senders.clear();
    await Promise.all(senders.map((sender) => sender.close()));
  }

  private senderFor(queueName: string): Pick<ServiceBusSender, "scheduleMessages" | "close"> {
    let sender = this.senders.get(queueName);
    if (!sender) {
      sender = this.client.createSender(queueName);
      this.senders.set(queueName, sender);
    }
    return sender;
  }
}
