/**
 * A fake Service Bus namespace behind the `@azure/service-bus` interfaces (no emulator runs here; the
 * official one needs Docker and caps duplicate detection at 5 minutes). It keeps the documented
 * state rules the pattern depends on, on a virtual clock:
 * - duplicate detection is checked when a message is SENT (scheduled ones too), against ids first
 *   seen less than one window ago; the window is fixed from first sight, consuming does not reset it;
 *   a duplicate send succeeds and is dropped (a scheduled one still returns a sequence number);
 * - a scheduled message materializes in the queue that received it at its time, with a new
 *   sequence number, without a second duplicate check there;
 * - a queue with `forwardTo` moves each message into the destination, keeping its SessionId; a
 *   session-enabled queue cannot forward; a message without SessionId cannot enter a session queue
 *   (dead-lettered at the source when forwarded); over 4 forwarding hops dead-letters;
 * - a forwarded message is NOT checked against the destination's duplicate detection: whether
 *   Service Bus does so is undocumented, and assuming it does not is the reading under which the
 *   processing queue alone must deduplicate (so the tests prove that it does);
 * - a session queue has no non-session receivers; one receiver holds a session at a time;
 * - peek-lock deliveries count up from 1; an abandoned message whose count reached maxDeliveryCount
 *   is dead-lettered with reason MaxDeliveryCountExceeded.
 * Dead-letter reasons other than MaxDeliveryCountExceeded are this fake's wording, not the service's.
 */
import {
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
  ServiceBusError,
  type ServiceBusSessionReceiver,
} from "@azure/service-bus";
import Long = require("long");

export interface FakeQueueOptions {
  requiresSession?: boolean;
  /** Seconds; undefined = no duplicate detection. */
  duplicateDetectionWindowSeconds?: number;
  forwardTo?: string;
  /** @default 10 (the Service Bus default) */
  maxDeliveryCount?: number;
}

interface StoredMessage {
  message: ServiceBusMessage;
  sequenceNumber: number;
  enqueuedAt: number;
  deliveryCount: number;
  hops: number;
  scheduledFor?: number;
  lockToken?: string;
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
  deadLetterSource?: string;
}

interface FakeQueue {
  name: string;
  options: Required<Pick<FakeQueueOptions, "requiresSession" | "maxDeliveryCount">> & FakeQueueOptions;
  active: StoredMessage[];
  scheduled: StoredMessage[];
  deadLetter: StoredMessage[];
  /** MessageId -> when it was first seen (ms, virtual clock). */
  seenIds: Map<string, number>;
  /** SessionId -> the receiver holding it. */
  sessionLocks: Map<string, string>;
}

const MAX_FORWARDING_HOPS = 4;

export type FakeSender = Pick<
  ServiceBusSender,
  "entityPath" | "isClosed" | "scheduleMessages" | "sendMessages" | "close"
>;
export type FakeSessionReceiver = Pick<
  ServiceBusSessionReceiver,
  | "sessionId"
  | "entityPath"
  | "receiveMode"
  | "isClosed"
  | "receiveMessages"
  | "completeMessage"
  | "abandonMessage"
  | "close"
>;
export type FakeReceiver = Pick<
  ServiceBusReceiver,
  "entityPath" | "receiveMode" | "isClosed" | "receiveMessages" | "peekMessages" | "completeMessage" | "close"
>;

/** A Service Bus namespace in memory, with a clock that moves only when told. */
export class FakeServiceBus {
  private readonly queues = new Map<string, FakeQueue>();
  private clock: number;
  private nextSequence = 1;
  private nextToken = 1;
  private nextReceiver = 1;

  constructor(start: Date) {
    this.clock = start.getTime();
  }

  now(): Date {
    return new Date(this.clock);
  }

  createQueue(name: string, options: FakeQueueOptions = {}): void {
    if (options.requiresSession && options.forwardTo) {
      throw new Error(`queue ${name}: a session-enabled queue cannot auto-forward (Service Bus SubCode 40000)`);
    }
    this.queues.set(name.toLowerCase(), {
      name,
      options: { requiresSession: false, maxDeliveryCount: 10, ...options },
      active: [],
      scheduled: [],
      deadLetter: [],
      seenIds: new Map(),
      sessionLocks: new Map(),
    });
  }

  /** Moves the clock forward, materializing (and forwarding) every scheduled message due by then, in time order. */
  advanceTo(time: Date): void {
    const target = time.getTime();
    if (target < this.clock)
      throw new Error(`the fake's clock only moves forward (${this.now().toISOString()} -> ${time.toISOString()})`);
    for (;;) {
      const due = [...this.queues.values()]
        .flatMap((queue) => queue.scheduled.map((stored) => ({ queue, stored })))
        .filter(({ stored }) => (stored.scheduledFor ?? 0) <= target)
        .sort(
          (a, b) =>
            (a.stored.scheduledFor ?? 0) - (b.stored.scheduledFor ?? 0) ||
            a.stored.sequenceNumber - b.stored.sequenceNumber,
        );
      if (due.length === 0) break;
      const { queue, stored } = due[0];
      this.clock = Math.max(this.clock, stored.scheduledFor ?? this.clock);
      queue.scheduled.splice(queue.scheduled.indexOf(stored), 1);
      this.activate(queue, {
        ...stored,
        scheduledFor: undefined,
        sequenceNumber: this.nextSequence++,
        enqueuedAt: this.clock,
      });
    }
    this.clock = target;
  }

  /** When the next scheduled message falls due, if any. */
  nextDueTime(): Date | undefined {
    const due = [...this.queues.values()].flatMap((queue) =>
      queue.scheduled.map((stored) => stored.scheduledFor ?? this.clock),
    );
    return due.length > 0 ? new Date(Math.min(...due)) : undefined;
  }

  advanceBy(milliseconds: number): void {
    this.advanceTo(new Date(this.clock + milliseconds));
  }

  /** Counts per queue, for assertions and reports. */
  stats(queueName: string): { active: number; scheduled: number; deadLettered: number } {
    const queue = this.queue(queueName);
    return { active: queue.active.length, scheduled: queue.scheduled.length, deadLettered: queue.deadLetter.length };
  }

  createSender(queueName: string): FakeSender {
    const queue = this.queue(queueName);
    let closed = false;
    const send = (messages: ServiceBusMessage | ServiceBusMessage[], scheduledFor?: number): Long[] => {
      if (closed) throw new Error(`sender for ${queue.name} is closed`);
      return (Array.isArray(messages) ? messages : [messages]).map((message) =>
        this.accept(queue, message, scheduledFor),
      );
    };
    return {
      entityPath: queue.name,
      get isClosed() {
        return closed;
      },
      scheduleMessages: async (messages, scheduledEnqueueTimeUtc) =>
        send(messages as ServiceBusMessage | ServiceBusMessage[], scheduledEnqueueTimeUtc.getTime()),
      sendMessages: async (messages) => {
        send(messages as ServiceBusMessage | ServiceBusMessage[]);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  /** Locks the next session that has messages nobody holds; throws ServiceTimeout when there is none. */
  async acceptNextSession(queueName: string): Promise<FakeSessionReceiver> {
    const queue = this.sessionQueue(queueName);
    const free = queue.active.find((stored) => !queue.sessionLocks.has(stored.message.sessionId as string));
    if (!free) throw new ServiceBusError(`no unlocked session with messages in ${queue.name}`, "ServiceTimeout");
    return this.lockSession(queue, free.message.sessionId as string);
  }

  async acceptSession(queueName: string, sessionId: string): Promise<FakeSessionReceiver> {
    return this.lockSession(this.sessionQueue(queueName), sessionId);
  }

  /** A non-session receiver: on a queue without sessions, or on any queue's dead-letter sub-queue. */
  createReceiver(queueName: string, options: { subQueueType?: "deadLetter" } = {}): FakeReceiver {
    const queue = this.queue(queueName);
    const deadLetter = options.subQueueType === "deadLetter";
    if (!deadLetter && queue.options.requiresSession) {
      throw new Error(`${queue.name} requires sessions: it is not possible to create a non-sessionful receiver for it`);
    }
    if (!deadLetter && queue.options.forwardTo) {
      throw new Error(
        `${queue.name} forwards to ${queue.options.forwardTo}: a queue with auto-forwarding has no receivers`,
      );
    }
    const source = () => (deadLetter ? queue.deadLetter : queue.active);
    const locked = new Map<string, StoredMessage>();
    let closed = false;
    return {
      entityPath: deadLetter ? `${queue.name}/$DeadLetterQueue` : queue.name,
      receiveMode: "peekLock",
      get isClosed() {
        return closed;
      },
      peekMessages: async (max) =>
        source()
          .slice(0, max)
          .map((stored) => this.view(stored)),
      receiveMessages: async (max) =>
        source()
          .filter((stored) => stored.lockToken === undefined)
          .slice(0, max)
          .map((stored) => {
            const view = this.lock(stored);
            locked.set(view.lockToken as string, stored);
            return view;
          }),
      completeMessage: async (message) => {
        const stored = this.settle(locked, message);
        source().splice(source().indexOf(stored), 1);
      },
      close: async () => {
        closed = true;
        for (const stored of locked.values()) stored.lockToken = undefined;
      },
    };
  }

  private queue(name: string): FakeQueue {
    const queue = this.queues.get(name.toLowerCase());
    if (!queue) throw new ServiceBusError(`the messaging entity ${name} could not be found`, "MessagingEntityNotFound");
    return queue;
  }

  private sessionQueue(name: string): FakeQueue {
    const queue = this.queue(name);
    if (!queue.options.requiresSession)
      throw new Error(`${queue.name} does not require sessions; use a non-session receiver`);
    return queue;
  }

  /** A send: the duplicate check happens here, scheduled or not. */
  private accept(queue: FakeQueue, message: ServiceBusMessage, scheduledFor?: number): Long {
    const messageId = String(message.messageId ?? `generated-${this.nextSequence}`);
    if (queue.options.requiresSession && !message.sessionId) {
      throw new Error(`${queue.name} requires sessions: the SessionId was not set on message ${messageId}`);
    }
    const sequenceNumber = this.nextSequence++;
    if (this.isDuplicate(queue, messageId)) return Long.fromNumber(sequenceNumber);
    const stored: StoredMessage = {
      message: { ...structuredClone(message), messageId },
      sequenceNumber,
      enqueuedAt: this.clock,
      deliveryCount: 0,
      hops: 0,
    };
    if (scheduledFor !== undefined && scheduledFor > this.clock) queue.scheduled.push({ ...stored, scheduledFor });
    else this.activate(queue, stored);
    return Long.fromNumber(sequenceNumber);
  }

  private isDuplicate(queue: FakeQueue, messageId: string): boolean {
    const windowSeconds = queue.options.duplicateDetectionWindowSeconds;
    if (windowSeconds === undefined) return false;
    const firstSeen = queue.seenIds.get(messageId);
    if (firstSeen !== undefined && this.clock - firstSeen < windowSeconds * 1000) return true;
    queue.seenIds.set(messageId, this.clock);
    return false;
  }

  /** A message becomes available in `queue`, or moves on if the queue forwards. */
  private activate(queue: FakeQueue, stored: StoredMessage): void {
    const destinationName = queue.options.forwardTo;
    if (!destinationName) {
      queue.active.push(stored);
      return;
    }
    const destination = this.queues.get(destinationName.toLowerCase());
    const failure = !destination
      ? `forwarding destination ${destinationName} does not exist`
      : stored.hops + 1 > MAX_FORWARDING_HOPS
        ? `more than ${MAX_FORWARDING_HOPS} forwarding hops`
        : destination.options.requiresSession && !stored.message.sessionId
          ? `${destination.name} requires sessions and the message has no SessionId`
          : undefined;
    if (destination && failure === undefined) {
      this.activate(destination, {
        ...stored,
        hops: stored.hops + 1,
        sequenceNumber: this.nextSequence++,
        enqueuedAt: this.clock,
      });
      return;
    }
    queue.deadLetter.push({
      ...stored,
      deadLetterReason: "ForwardingFailed",
      deadLetterErrorDescription: failure,
      deadLetterSource: queue.name,
    });
  }

  private lockSession(queue: FakeQueue, sessionId: string): FakeSessionReceiver {
    if (queue.sessionLocks.has(sessionId)) {
      throw new ServiceBusError(
        `session ${sessionId} of ${queue.name} is locked by another receiver`,
        "SessionCannotBeLocked",
      );
    }
    const receiverId = `receiver-${this.nextReceiver++}`;
    queue.sessionLocks.set(sessionId, receiverId);
    const locked = new Map<string, StoredMessage>();
    let closed = false;
    const ensureOpen = () => {
      if (closed) throw new ServiceBusError(`the session receiver for ${sessionId} is closed`, "SessionLockLost");
    };
    return {
      sessionId,
      entityPath: queue.name,
      receiveMode: "peekLock",
      get isClosed() {
        return closed;
      },
      receiveMessages: async (max) => {
        ensureOpen();
        return queue.active
          .filter((stored) => stored.message.sessionId === sessionId && stored.lockToken === undefined)
          .slice(0, max)
          .map((stored) => {
            const view = this.lock(stored);
            locked.set(view.lockToken as string, stored);
            return view;
          });
      },
      completeMessage: async (message) => {
        ensureOpen();
        const stored = this.settle(locked, message);
        queue.active.splice(queue.active.indexOf(stored), 1);
      },
      abandonMessage: async (message) => {
        ensureOpen();
        const stored = this.settle(locked, message);
        if (stored.deliveryCount >= queue.options.maxDeliveryCount) {
          queue.active.splice(queue.active.indexOf(stored), 1);
          queue.deadLetter.push({
            ...stored,
            deadLetterReason: "MaxDeliveryCountExceeded",
            deadLetterErrorDescription: `Message could not be consumed after ${queue.options.maxDeliveryCount} delivery attempts.`,
            deadLetterSource: queue.name,
          });
        }
      },
      close: async () => {
        closed = true;
        for (const stored of locked.values()) stored.lockToken = undefined;
        queue.sessionLocks.delete(sessionId);
      },
    };
  }

  private lock(stored: StoredMessage): ServiceBusReceivedMessage {
    stored.deliveryCount += 1;
    stored.lockToken = `lock-${this.nextToken++}`;
    return this.view(stored);
  }

  private settle(locked: Map<string, StoredMessage>, message: ServiceBusReceivedMessage): StoredMessage {
    const stored = locked.get(message.lockToken ?? "");
    if (!stored || stored.lockToken !== message.lockToken) {
      throw new ServiceBusError(
        `the lock of message ${message.messageId} is not held by this receiver`,
        "MessageLockLost",
      );
    }
    locked.delete(message.lockToken as string);
    stored.lockToken = undefined;
    return stored;
  }

  private view(stored: StoredMessage): ServiceBusReceivedMessage {
    const body = structuredClone(stored.message.body);
    return {
      ...structuredClone(stored.message),
      body,
      deliveryCount: stored.deliveryCount,
      enqueuedTimeUtc: new Date(stored.enqueuedAt),
      sequenceNumber: Long.fromNumber(stored.sequenceNumber),
      lockToken: stored.lockToken,
      deadLetterReason: stored.deadLetterReason,
      deadLetterErrorDescription: stored.deadLetterErrorDescription,
      deadLetterSource: stored.deadLetterSource,
      state: "active",
      _rawAmqpMessage: { body, bodyType: "data" },
    };
  }
}
