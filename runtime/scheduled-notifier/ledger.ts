/**
 * The delivery ledger: the consumer's memory of which idempotency keys were already sent, so that
 * a retried run, a duplicate SQS delivery or a redelivered batch notifies nobody twice.
 *
 * Every job is claimed before `send` and marked sent after it. A claim is an atomic
 * create-if-absent; everything after it is a compare-and-swap on the record's ETag. The S3 ledger
 * uses S3 conditional writes (`If-None-Match: *`, `If-Match: <etag>`), which are strongly consistent:
 * two attempts can never both hold the same key.
 */
import { createHash, randomUUID } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { LEDGER_PREFIX } from "./contract";

/** The right to send one key, held by one attempt. */
export interface Claim {
  key: string;
  /** The version of the record this attempt wrote (S3: its ETag); later writes require it. */
  version: string;
  startedAt: string;
}

export type ClaimResult =
  /** This attempt may send. */
  | { outcome: "claimed"; claim: Claim }
  /** An earlier attempt sent it: drop the job. */
  | { outcome: "already-sent"; sentAt: string }
  /** Another attempt holds the key right now: retry the job later. */
  | { outcome: "in-progress" }
  /**
   * An earlier attempt claimed the key, its lease ran out and it never recorded success or failure
   * (the function crashed or timed out mid-send). Whether the recipient was notified is unknown.
   */
  | { outcome: "outcome-unknown"; startedAt: string };

export interface DeliveryLedger {
  /** Claims `key` for `leaseSeconds`; the lease must outlast the attempt (the rest of the invocation). */
  claim(key: string, leaseSeconds: number): Promise<ClaimResult>;
  /** Records that the claimed key was sent; later claims answer `already-sent`. */
  markSent(claim: Claim): Promise<void>;
  /** Gives the key back after a failed send, so a later attempt can claim it. */
  release(claim: Claim): Promise<void>;
}

type LedgerState = "sending" | "sent" | "released";

interface LedgerRecord {
  key: string;
  state: LedgerState;
  /** Unique per write, so two writes never share an ETag (S3's ETag is the MD5 of the content). */
  writeId: string;
  startedAt: string;
  leaseUntil?: string;
  sentAt?: string;
}

/** Thrown when a conditional write lost: another attempt changed the record first. */
export class LedgerConflictError extends Error {
  constructor(key: string, action: string) {
    super(`the ledger record of ${key} changed under this attempt while it tried to ${action}`);
    this.name = "LedgerConflictError";
  }
}

/** The S3 object key of an idempotency key: hashed, so keys of any length and alphabet fit and spread. */
export function ledgerObjectKey(key: string): string {
  return `${LEDGER_PREFIX}${createHash("sha256").update(key).digest("hex")}`;
}

function statusOf(error: unknown): { name?: string; status?: number } {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e?.name, status: e?.$metadata?.httpStatusCode };
}

/** S3 answers 412 when an `If-None-Match`/`If-Match` condition does not hold. */
function isPreconditionFailed(error: unknown): boolean {
  const { name, status } = statusOf(error);
  return name === "PreconditionFailed" || status === 412;
}

/** S3 answers 409 when a concurrent conditional write on the same key won; the loser may retry. */
function isConditionalConflict(error: unknown): boolean {
  const { name, status } = statusOf(error);
  return name === "ConditionalRequestConflict" || status === 409;
}

function isMissing(error: unknown): boolean {
  const { name, status } = statusOf(error);
  return name === "NoSuchKey" || status === 404;
}

export class S3DeliveryLedger implements DeliveryLedger {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string, leaseSeconds: number): Promise<ClaimResult> {
    const startedAt = new Date(this.now()).toISOString();
    const record: LedgerRecord = {
      key,
      state: "sending",
      writeId: randomUUID(),
      startedAt,
      leaseUntil: new Date(this.now() + leaseSeconds * 1000).toISOString(),
    };
    try {
      const version = await this.write(record, { IfNoneMatch: "*" });
      return { outcome: "claimed", claim: { key, version, startedAt } };
    } catch (error) {
      if (isConditionalConflict(error)) return { outcome: "in-progress" };
      if (!isPreconditionFailed(error)) throw error;
    }
    const existing = await this.read(key);
    if (existing === undefined) return { outcome: "in-progress" };
    // The SDK retried our own create after its response was lost: the record is this attempt's claim.
    if (existing.record.writeId === record.writeId) {
      return { outcome: "claimed", claim: { key, version: existing.version, startedAt } };
    }
    switch (existing.record.state) {
      case "sent":
        return { outcome: "already-sent", sentAt: existing.record.sentAt ?? existing.record.startedAt };
      case "sending":
        return Date.parse(existing.record.leaseUntil ?? "") > this.now()
          ? { outcome: "in-progress" }
          : { outcome: "outcome-unknown", startedAt: existing.record.startedAt };
      case "released":
        try {
          const version = await this.overwrite(record, existing.version);
          return { outcome: "claimed", claim: { key, version, startedAt } };
        } catch (error) {
          if (isPreconditionFailed(error) || isConditionalConflict(error)) return { outcome: "in-progress" };
          throw error;
        }
    }
  }

  async markSent(claim: Claim): Promise<void> {
    const sentAt = new Date(this.now()).toISOString();
    await this.replace(claim, { state: "sent", sentAt }, "record the send");
  }

  async release(claim: Claim): Promise<void> {
    await this.replace(claim, { state: "released" }, "release its claim");
  }

  private async replace(claim: Claim, change: Pick<LedgerRecord, "state" | "sentAt">, action: string): Promise<void> {
    const record: LedgerRecord = { key: claim.key, writeId: randomUUID(), startedAt: claim.startedAt, ...change };
    try {
      await this.overwrite(record, claim.version);
    } catch (error) {
      if (isPreconditionFailed(error) || isConditionalConflict(error)) throw new LedgerConflictError(claim.key, action);
      throw error;
    }
  }

  /**
   * A compare-and-swap on `version`. When the condition fails, the record may be our own write whose
   * response was lost and which the SDK retried: then the write did happen and its version is returned.
   */
  private async overwrite(record: LedgerRecord, version: string): Promise<string> {
    try {
      return await this.write(record, { IfMatch: version });
    } catch (error) {
      if (!isPreconditionFailed(error) && !isConditionalConflict(error)) throw error;
      const existing = await this.read(record.key);
      if (existing?.record.writeId === record.writeId) return existing.version;
      throw error;
    }
  }

  private async write(record: LedgerRecord, condition: { IfNoneMatch: "*" } | { IfMatch: string }): Promise<string> {
    const response = await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: ledgerObjectKey(record.key),
        Body: JSON.stringify(record),
        ContentType: "application/json",
        ...condition,
      }),
    );
    if (!response.ETag) throw new Error(`the ledger write of ${record.key} returned no ETag`);
    return response.ETag;
  }

  private async read(key: string): Promise<{ record: LedgerRecord; version: string } | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: ledgerObjectKey(key) }));
      const text = (await response.Body?.transformToString()) ?? "";
      return { record: JSON.parse(text) as LedgerRecord, version: response.ETag ?? "" };
    } catch (error) {
      // Expired between the failed create and this read: the caller retries later and claims afresh.
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
}
