import * as assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { LedgerConflictError, ledgerObjectKey, S3DeliveryLedger } from "../../../runtime/scheduled-notifier/ledger";
import { type FakeAwsServices, startFakeAwsServices } from "../../../testing/fakes/s3-secrets-manager";
import { fakeAwsFor } from "../../harness/rigs/notifier";

/**
 * A client whose next conditional PutObject of the given kind reaches S3 but loses its response, so
 * it is sent again, as the SDK's retry strategy does: the caller sees only the second answer.
 */
function losingNextResponse(client: S3Client, condition: "IfNoneMatch" | "IfMatch"): S3Client {
  let armed = true;
  const send = async (command: unknown) => {
    const real = client.send.bind(client) as (c: unknown) => Promise<unknown>;
    if (armed && command instanceof PutObjectCommand && command.input[condition] !== undefined) {
      armed = false;
      await real(command);
    }
    return real(command);
  };
  return { send } as unknown as S3Client;
}

/**
 * A client through which the record of a key expires (S3's lifecycle rule deletes it) right after a
 * create of it fails because it exists: the ledger's following read finds nothing.
 */
function expiringAfterFailedCreate(client: S3Client, s3: FakeAwsServices): S3Client {
  const send = async (command: unknown) => {
    const real = client.send.bind(client) as (c: unknown) => Promise<unknown>;
    try {
      return await real(command);
    } catch (error) {
      if (command instanceof PutObjectCommand && command.input.IfNoneMatch === "*") {
        s3.objects.delete(`${command.input.Bucket}/${command.input.Key}`);
      }
      throw error;
    }
  };
  return { send } as unknown as S3Client;
}

describe("the S3 delivery ledger (against S3's conditional-write rules)", () => {
  let s3: FakeAwsServices;
  let client: S3Client;
  let clock: number;
  let ledger: S3DeliveryLedger;

  before(async () => {
    s3 = await startFakeAwsServices(fakeAwsFor("ledger-bucket"));
    client = new S3Client({
      endpoint: s3.url,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  });
  after(async () => {
    client.destroy();
    await s3.stop();
  });
  beforeEach(() => {
    s3.objects.clear();
    clock = Date.parse("2025-03-25T09:00:00Z");
    ledger = new S3DeliveryLedger(client, "ledger-bucket", () => clock);
  });

  it("gives a key nobody claimed to the first claimer", async () => {
    const result = await ledger.claim("run-1:user-1", 60);
    assert.equal(result.outcome, "claimed");
    assert.deepEqual([...s3.objects.keys()], [`ledger-bucket/${ledgerObjectKey("run-1:user-1")}`]);
  });

  it("answers in-progress to a second claim while the first claim's lease runs", async () => {
    await ledger.claim("run-1:user-1", 60);
    clock += 59_000;
    assert.deepEqual(await ledger.claim("run-1:user-1", 60), { outcome: "in-progress" });
  });

  it("answers already-sent once the send is recorded", async () => {
    const first = await ledger.claim("run-1:user-1", 60);
    assert.equal(first.outcome, "claimed");
    if (first.outcome !== "claimed") return;
    clock += 1000;
    await ledger.markSent(first.claim);
    assert.deepEqual(await ledger.claim("run-1:user-1", 60), {
      outcome: "already-sent",
      sentAt: "2025-03-25T09:00:01.000Z",
    });
  });

  it("lets a later attempt claim a key that was released after a failed send", async () => {
    const first = await ledger.claim("run-1:user-1", 60);
    if (first.outcome !== "claimed") assert.fail("first claim failed");
    await ledger.release(first.claim);
    assert.equal((await ledger.claim("run-1:user-1", 60)).outcome, "claimed");
  });

  it("answers outcome-unknown when a claim's lease ran out without a recorded outcome", async () => {
    await ledger.claim("run-1:user-1", 60);
    clock += 61_000;
    assert.deepEqual(await ledger.claim("run-1:user-1", 60), {
      outcome: "outcome-unknown",
      startedAt: "2025-03-25T09:00:00.000Z",
    });
  });

  it("gives a key to exactly one of many concurrent claimers", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => ledger.claim("run-1:user-1", 60)));
    assert.equal(results.filter((r) => r.outcome === "claimed").length, 1);
    assert.equal(results.filter((r) => r.outcome === "in-progress").length, 7);
  });

  it("gives a released key to exactly one of many concurrent claimers", async () => {
    const first = await ledger.claim("run-1:user-1", 60);
    if (first.outcome !== "claimed") assert.fail("first claim failed");
    await ledger.release(first.claim);
    const results = await Promise.all(Array.from({ length: 8 }, () => ledger.claim("run-1:user-1", 60)));
    assert.equal(results.filter((r) => r.outcome === "claimed").length, 1);
  });

  it("refuses to record a send for a claim another attempt has replaced", async () => {
    const first = await ledger.claim("run-1:user-1", 60);
    if (first.outcome !== "claimed") assert.fail("first claim failed");
    await ledger.release(first.claim);
    await ledger.claim("run-1:user-1", 60);
    await assert.rejects(ledger.markSent(first.claim), new LedgerConflictError("run-1:user-1", "record the send"));
  });

  it("keeps its claim when the SDK retries the create after its response was lost", async () => {
    const retrying = new S3DeliveryLedger(losingNextResponse(client, "IfNoneMatch"), "ledger-bucket", () => clock);
    const result = await retrying.claim("run-1:user-1", 60);
    if (result.outcome !== "claimed") assert.fail(`expected claimed, got ${JSON.stringify(result)}`);
    await retrying.markSent(result.claim);
    assert.equal((await ledger.claim("run-1:user-1", 60)).outcome, "already-sent");
  });

  it("records the send when the SDK retries the update after its response was lost", async () => {
    const retrying = new S3DeliveryLedger(losingNextResponse(client, "IfMatch"), "ledger-bucket", () => clock);
    const result = await retrying.claim("run-1:user-1", 60);
    if (result.outcome !== "claimed") assert.fail("first claim failed");
    await retrying.markSent(result.claim);
    assert.equal((await ledger.claim("run-1:user-1", 60)).outcome, "already-sent");
  });

  it("answers in-progress when the record expires between a failed create and the read: S3 says 404, not 403, to the consumer's role, which may list the bucket (API_GetObject, Permissions)", async () => {
    await ledger.claim("run-1:user-1", 60);
    const expiring = new S3DeliveryLedger(expiringAfterFailedCreate(client, s3), "ledger-bucket", () => clock);
    assert.deepEqual(await expiring.claim("run-1:user-1", 60), { outcome: "in-progress" });
  });

  it("stores keys of any length and alphabet under the ledger prefix as a fixed-size hash", () => {
    assert.match(ledgerObjectKey(`run:${"é/?".repeat(500)}`), /^ledger\/[0-9a-f]{64}$/);
  });
});
