/**
 * What the DedupForwardingQueue component and its processing function agree on: the shapes the
 * user's `process` callback sees and the options the component fixes at construction.
 * No imports, so the component can name these types without loading the Functions SDK.
 */

/** What the trigger tells about the message being processed. */
export interface ProcessingMessageInfo {
  messageId?: string;
  sessionId?: string;
  /** 1 on the first delivery. */
  deliveryCount?: number;
  enqueuedTimeUtc?: string;
}

/** The argument of the user's `process` callback. */
export interface ProcessingRun {
  dataSetId: string;
  /** The period label, e.g. `2024-03-10` or `2024-03-10T02:00/PT2H`. */
  period: string;
  /** The window name, e.g. `daily`. */
  window: string;
  periodStart: Date;
  periodEnd: Date;
  message: ProcessingMessageInfo;
}

export type ProcessCallback = (run: ProcessingRun) => unknown;

/** Plain JSON fixed at construction. */
export interface ProcessorOptions {
  functionName: string;
  queueName: string;
  /** The app setting prefix of the identity-based connection (`<prefix>__fullyQualifiedNamespace`). */
  connection: string;
  maxDeliveryCount: number;
  /** The configured window names; a request for another window is malformed. */
  windows: string[];
}
