/**
 * FanOutIngest's settings: every argument with its default applied and checked, in one pass, and the
 * names of the storage queues and containers the component creates.
 */
import { FUNCTION_APP_NAMES, validateFunctionAppArgs } from "../azure/function-app";
import { checkFunctionAppEnvironmentKeys } from "../azure/app-settings";
import { checkActionGroupIds, checkResourceGroupName } from "../azure/resource-id";
import { usesExisting } from "../core/existing";
import { checkDerivedNames, type DerivedName, derived, NAME_RULES, prefixed } from "../core/naming";
import { ArgumentChecker, ownerLabel, type Settled } from "../core/validation";
import type { MessageEncoding } from "../../runtime/fan-out-ingest/contract";
import { FAN_OUT_DEFAULTS, type FanOutIngestArgs } from "./args";

/** The app setting prefix of the data account connection, read by the runtime and the queue trigger. */
export const DATA_CONNECTION = "FanOutStorage";
/** Queue Event Grid writes BlobCreated events into, and its poison queue. */
export const EVENTS_QUEUE = "chunk-events";
/** Container Event Grid writes events it could not deliver into. */
export const DEAD_LETTER_CONTAINER = "event-dead-letters";
/** Storage queue and container names: 3..63 characters. */
const MAX_STORAGE_NAME = 63;
const POISON_SUFFIX = "-poison";
/** One ingestion invocation enqueues a whole chunk within the Functions time limit. */
const MAX_CHUNK_SIZE = 100_000;

/** Storage's rule for queue and container names: lowercase letters, digits and single inner hyphens. */
const STORAGE_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const STORAGE_NAME_FIX =
  "use 3..63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.";

/** The target queue names for a base name and count. */
export function targetQueueNames(queueName: string, queueCount: number): string[] {
  if (queueCount === 1) return [queueName];
  return Array.from({ length: queueCount }, (_, i) => `${queueName}-${i + 1}`);
}

export function poisonQueueName(queue: string): string {
  return `${queue}${POISON_SUFFIX}`;
}

/** The physical names an ingest derives from its name. */
const FAN_OUT_INGEST_NAMES: readonly DerivedName[] = [
  ...prefixed("-functions", FUNCTION_APP_NAMES),
  derived("<name>-chunk-created", NAME_RULES.eventSubscription),
  derived("<name>-events", NAME_RULES.systemTopic),
  derived("<name>-rg", NAME_RULES.resourceGroup),
];

/** Every setting of a FanOutIngest with its default applied. */
export interface FanOutIngestSettings {
  chunkSize: number;
  queueCount: number;
  queueName: string;
  chunkContainerName: string;
  messageEncoding: MessageEncoding;
  sendConcurrency: number;
  checkpointEvery: number;
  chunkRetentionDays: number;
  maxDeliveryCount: number;
  eventTimeToLiveMinutes: number;
  uploadConcurrency: number;
  /** NCRONTAB schedule of the timer-started run; none when unset. */
  schedule?: string;
  /** Target queues, in hash order. */
  queueNames: string[];
  /** The poison queue of each target queue, same order. */
  poisonQueueNames: string[];
}

/** Every argument with its default applied, and every problem with its fix, in one pass. */
export function fanOutIngestSettings<TItem>(
  name: string,
  args: FanOutIngestArgs<TItem>,
): Settled<FanOutIngestSettings> {
  const owner = ownerLabel("FanOutIngest", name);
  const checker = new ArgumentChecker(owner);
  checkActionGroupIds(checker, args.alarmActions);
  checkDerivedNames(checker, "FanOutIngest", name, FAN_OUT_INGEST_NAMES);
  checker.check(
    typeof args.source === "function",
    "source",
    args.source,
    "must be a function returning an async iterable, e.g. an async generator that walks the API's pages.",
  );
  if (args.toMessage !== undefined) {
    checker.check(
      typeof args.toMessage === "function",
      "toMessage",
      args.toMessage,
      "must be a function from an item to a message (string or JSON value).",
    );
  }

  const chunkSize = args.chunkSize ?? FAN_OUT_DEFAULTS.chunkSize;
  checker.integerInRange(
    "chunkSize",
    args.chunkSize,
    1,
    MAX_CHUNK_SIZE,
    "one ingestion invocation enqueues a whole chunk within the Functions time limit, so use",
  );
  const queueCount = args.queueCount ?? FAN_OUT_DEFAULTS.queueCount;
  checker.integerInRange(
    "queueCount",
    args.queueCount,
    1,
    10,
    "ten queues at ~2,000 msg/s reach the storage account's ~20,000 requests/s, so more add nothing; use",
  );
  const sendConcurrency = args.sendConcurrency ?? FAN_OUT_DEFAULTS.sendConcurrency;
  checker.integerInRange("sendConcurrency", args.sendConcurrency, 1, 256, "sends in flight per invocation can be");
  const checkpointEvery = args.checkpointEvery ?? FAN_OUT_DEFAULTS.checkpointEvery;
  checker.integerInRange(
    "checkpointEvery",
    args.checkpointEvery,
    1,
    checker.has("chunkSize") ? MAX_CHUNK_SIZE : chunkSize,
    "the interval is at most the chunk size: use",
  );
  const chunkRetentionDays = args.chunkRetentionDays ?? FAN_OUT_DEFAULTS.chunkRetentionDays;
  checker.integerInRange(
    "chunkRetentionDays",
    args.chunkRetentionDays,
    1,
    3650,
    "lifecycle management deletes chunks after a number of days in",
  );
  const maxDeliveryCount = args.eventDelivery?.maxDeliveryCount ?? FAN_OUT_DEFAULTS.maxDeliveryCount;
  checker.integerInRange(
    "eventDelivery.maxDeliveryCount",
    args.eventDelivery?.maxDeliveryCount,
    1,
    30,
    "Event Grid allows",
  );
  const eventTimeToLiveMinutes = args.eventDelivery?.eventTimeToLiveMinutes ?? FAN_OUT_DEFAULTS.eventTimeToLiveMinutes;
  checker.integerInRange(
    "eventDelivery.eventTimeToLiveMinutes",
    args.eventDelivery?.eventTimeToLiveMinutes,
    1,
    1440,
    "Event Grid allows",
  );
  const messageEncoding = args.messageEncoding ?? FAN_OUT_DEFAULTS.messageEncoding;
  if (args.messageEncoding !== undefined) {
    checker.check(
      args.messageEncoding === "base64" || args.messageEncoding === "none",
      "messageEncoding",
      args.messageEncoding,
      'is not a Storage Queue message encoding; use "base64" (what a Functions queue trigger reads by default) or "none".',
    );
  }
  if (args.schedule !== undefined) {
    const fields = args.schedule.trim().split(/\s+/);
    checker.check(
      fields.length === 6 && fields.every((field) => /^[0-9A-Za-z*,/-]+$/.test(field)),
      "schedule",
      args.schedule,
      'is not a 6-field NCRONTAB expression (second minute hour day month day-of-week); e.g. "0 0 2 * * *" runs daily at 02:00 UTC.',
    );
  }

  const chunkContainerName = args.chunkContainerName ?? FAN_OUT_DEFAULTS.chunkContainerName;
  checkStorageName(checker, "chunkContainerName", args.chunkContainerName, "blob container");
  if (!checker.has("chunkContainerName")) {
    checker.check(
      chunkContainerName !== DEAD_LETTER_CONTAINER,
      "chunkContainerName",
      chunkContainerName,
      `is the Event Grid dead-letter container of this component; choose another name.`,
    );
  }
  const queueName = args.queueName ?? FAN_OUT_DEFAULTS.queueName;
  const queueNames = targetQueueNames(queueName, checker.has("queueCount") ? FAN_OUT_DEFAULTS.queueCount : queueCount);
  checkStorageName(checker, "queueName", args.queueName, "Storage queue");
  if (!checker.has("queueName")) {
    const longest = poisonQueueName(queueNames.at(-1) as string);
    checker.check(
      longest.length <= MAX_STORAGE_NAME,
      "queueName",
      queueName,
      `is too long: its poison queue "${longest}" would have ${longest.length} characters and Storage allows ${MAX_STORAGE_NAME}; use at most ${queueName.length - (longest.length - MAX_STORAGE_NAME)} characters.`,
    );
    const reserved = [EVENTS_QUEUE, poisonQueueName(EVENTS_QUEUE)];
    checker.check(
      !queueNames.some((queue) => reserved.includes(queue) || reserved.includes(poisonQueueName(queue))),
      "queueName",
      queueName,
      `collides with this component's events queues (${reserved.join(", ")}); choose another name.`,
    );
  }
  if (args.systemTopic !== undefined) {
    // There are no settings to create a topic with, so anything but `{ existing }` is a mistake.
    checker.check(
      usesExisting(args.systemTopic),
      "systemTopic",
      args.systemTopic,
      'must be { existing: "<system topic name>" }, a system topic on this component\'s storage account; omit systemTopic to create one.',
    );
  }
  checkFunctionAppEnvironmentKeys(checker, args.environment);
  checkResourceGroupName(
    checker,
    "resourceGroupName",
    args.resourceGroupName,
    ", or omit resourceGroupName to create one",
  );
  checker.include(validateFunctionAppArgs(owner, args.function ?? {}, "function."));

  return {
    settings: {
      chunkSize,
      queueCount,
      queueName,
      chunkContainerName,
      messageEncoding,
      sendConcurrency,
      checkpointEvery,
      chunkRetentionDays,
      maxDeliveryCount,
      eventTimeToLiveMinutes,
      uploadConcurrency: FAN_OUT_DEFAULTS.uploadConcurrency,
      ...(args.schedule ? { schedule: args.schedule } : {}),
      queueNames,
      poisonQueueNames: queueNames.map(poisonQueueName),
    },
    problems: checker,
  };
}

/** Records a problem unless `value` is a valid Storage queue/container name (or unset). */
function checkStorageName(checker: ArgumentChecker, argument: string, value: string | undefined, kind: string): void {
  if (value === undefined) return;
  const ok =
    typeof value === "string" && value.length >= 3 && value.length <= MAX_STORAGE_NAME && STORAGE_NAME.test(value);
  checker.check(ok, argument, value, `is not a valid ${kind} name; ${STORAGE_NAME_FIX}`);
}
