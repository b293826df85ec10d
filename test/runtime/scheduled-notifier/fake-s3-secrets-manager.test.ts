/**
 * The fake S3 and Secrets Manager answer as the services document it for the caller's policy,
 * decided by the IAM policy simulator: the ledger's and consumer's tests rely on it.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type FakeAwsServices, startFakeAwsServices } from "../../../testing/fakes/s3-secrets-manager";
import { type PolicyDocument, simulatedCaller } from "../../harness/iam-simulator";

const ACCOUNT = "123456789012";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/reader`;
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:api-token-AbCdEf`;
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

function policy(...statements: PolicyDocument["Statement"]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

const READ_LEDGER = {
  Effect: "Allow" as const,
  Action: ["s3:GetObject", "s3:PutObject"],
  Resource: "arn:aws:s3:::bucket/ledger/*",
};

/** The error name and HTTP status of a failed call, or "ok". */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return `${e.$metadata?.httpStatusCode} ${e.name}`;
  }
}

/** A fake for a caller with `callerPolicy`, and clients pointed at it; stopped after the suite. */
function fakeFor(callerPolicy: PolicyDocument) {
  const handle: { aws?: FakeAwsServices; s3?: S3Client; secrets?: SecretsManagerClient } = {};
  before(async () => {
    handle.aws = await startFakeAwsServices({
      secret: { arn: SECRET, value: "t0ken" },
      caller: simulatedCaller(ROLE, callerPolicy),
    });
    const config = { endpoint: handle.aws.url, region: "us-east-1", credentials };
    handle.s3 = new S3Client(config);
    handle.secrets = new SecretsManagerClient(config);
  });
  after(async () => {
    handle.s3?.destroy();
    handle.secrets?.destroy();
    await handle.aws?.stop();
  });
  return handle as Required<typeof handle>;
}

describe("the fake S3, for a caller allowed GetObject and PutObject but not ListBucket", () => {
  const fake = fakeFor(policy(READ_LEDGER));

  it("answers a missing key with 403 AccessDenied, not 404, as S3 does without s3:ListBucket (API_GetObject, Permissions)", async () => {
    assert.equal(
      await outcome(fake.s3.send(new GetObjectCommand({ Bucket: "bucket", Key: "ledger/missing" }))),
      "403 AccessDenied",
    );
  });

  it("returns an object that exists", async () => {
    await fake.s3.send(new PutObjectCommand({ Bucket: "bucket", Key: "ledger/present", Body: "{}" }));
    const response = await fake.s3.send(new GetObjectCommand({ Bucket: "bucket", Key: "ledger/present" }));
    assert.equal(await response.Body?.transformToString(), "{}");
  });

  it("refuses objects outside the granted prefix with 403 AccessDenied", async () => {
    assert.equal(
      await outcome(fake.s3.send(new PutObjectCommand({ Bucket: "bucket", Key: "other/key", Body: "{}" }))),
      "403 AccessDenied",
    );
  });
});

describe("the fake S3, for a caller also allowed ListBucket on the bucket", () => {
  const fake = fakeFor(
    policy(READ_LEDGER, { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::bucket" }),
  );

  it("answers a missing key with 404 NoSuchKey, as S3 does with s3:ListBucket (API_GetObject, Permissions)", async () => {
    assert.equal(
      await outcome(fake.s3.send(new GetObjectCommand({ Bucket: "bucket", Key: "ledger/missing" }))),
      "404 NoSuchKey",
    );
  });
});

describe("the fake S3, for a caller allowed ListBucket only for the s3:prefix ledger/", () => {
  const fake = fakeFor(
    policy(READ_LEDGER, {
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: "arn:aws:s3:::bucket",
      Condition: { StringLike: { "s3:prefix": "ledger/*" } },
    }),
  );

  it("still answers a missing key with 403: a GetObject carries no s3:prefix for the condition to match", async () => {
    assert.equal(
      await outcome(fake.s3.send(new GetObjectCommand({ Bucket: "bucket", Key: "ledger/missing" }))),
      "403 AccessDenied",
    );
  });
});

describe("the fake Secrets Manager", () => {
  const fake = fakeFor(
    policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${SECRET.slice(0, -7)}-??????` }),
  );
  const read = (SecretId: string) => fake.secrets.send(new GetSecretValueCommand({ SecretId }));

  it("finds the secret by its complete ARN, its partial ARN and its name (API_GetSecretValue, SecretId)", async () => {
    for (const id of [SECRET, SECRET.slice(0, -7), "api-token"]) {
      assert.equal((await read(id)).SecretString, "t0ken", id);
    }
  });

  it("answers ResourceNotFoundException for a name it does not hold", async () => {
    assert.equal(await outcome(read("other-token")), "400 ResourceNotFoundException");
  });
});

describe("the fake Secrets Manager, for a caller granted the partial ARN as written", () => {
  const fake = fakeFor(
    policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: SECRET.slice(0, -7) }),
  );

  it("denies the read with AccessDeniedException: IAM authorizes the secret's complete ARN", async () => {
    const read = fake.secrets.send(new GetSecretValueCommand({ SecretId: SECRET.slice(0, -7) }));
    assert.equal(await outcome(read), "400 AccessDeniedException");
  });
});
