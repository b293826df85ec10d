/**
 * The two AWS services fauxqs lacks, for ScheduledNotifier: S3 with conditional writes
 * (`If-None-Match: *`, `If-Match`) for the delivery ledger, and Secrets Manager's GetSecretValue,
 * on one loopback port. Given a caller, every request is authorized first as the services authorize
 * it (this repository's tests decide with an IAM policy simulator, so a policy that lacks a
 * permission gets the answer AWS would give it); without one, every request is allowed.
 */
import { createHash } from "node:crypto";
import type * as http from "node:http";
import { type LoopbackServer, listenOnLoopback } from "../loopback-server";

export interface FakeAwsServices extends LoopbackServer {
  /** Ledger objects by `<bucket>/<key>`. */
  objects: Map<string, { body: string; etag: string }>;
  /** GetSecretValue calls answered with the secret. */
  secretReads(): number;
}

export interface FakeAwsServicesOptions {
  /** The one secret Secrets Manager holds, by its complete ARN (`...:secret:<name>-<6 characters>`). */
  secret: { arn: string; value: string };
  /** Who calls (every request is signed by this role) and whether it may. @default anyone, allowed everything */
  caller?: FakeAwsCaller;
}

/** The identity every request is signed by, and its authorization. */
export interface FakeAwsCaller {
  roleArn: string;
  /** Whether the role may perform `action` (`s3:GetObject`, ...) on `resource` (an ARN). */
  allows(action: string, resource: string): Promise<boolean>;
}

const ANYONE: FakeAwsCaller = { roleArn: "arn:aws:iam::000000000000:role/local", allows: async () => true };

function s3Error(response: http.ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { "content-type": "application/xml" });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

function secretsError(response: http.ServerResponse, type: string, message: string): void {
  response.writeHead(400);
  response.end(JSON.stringify({ __type: type, message }));
}

const PRECONDITION_FAILED = "At least one of the pre-conditions you specified did not hold";

/** IAM's wording of an implicit or explicit denial, as both services return it. */
function denial(caller: string, action: string, resource: string): string {
  return `User: ${caller} is not authorized to perform: ${action} on resource: ${resource}`;
}

/** The ARN's final `-` and six characters, which Secrets Manager adds to the name. */
const SECRET_SUFFIX = /-[A-Za-z0-9]{6}$/;

/** A secret's name, from its complete ARN. */
function secretName(completeArn: string): string {
  return completeArn.slice(completeArn.indexOf(":secret:") + ":secret:".length).replace(SECRET_SUFFIX, "");
}

/**
 * The secret a GetSecretValue `SecretId` names: its complete ARN, a partial ARN (without the final
 * `-` and six characters) or its name. An ARN ending in `-` and six characters is taken as complete,
 * as Secrets Manager does (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html,
 * SecretId; https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen).
 */
function namesSecret(secretId: string, completeArn: string): boolean {
  if (secretId === completeArn) return true;
  if (secretId.startsWith("arn:"))
    return !SECRET_SUFFIX.test(secretId) && secretId === completeArn.replace(SECRET_SUFFIX, "");
  return secretId === secretName(completeArn);
}

/**
 * S3 (path-style PutObject/GetObject with S3's documented conditional-write rules) and Secrets
 * Manager (GetSecretValue for one secret), on one loopback port. Point the SDK at it with
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_SECRETS_MANAGER.
 *
 * Authorization, as the services document it:
 * - GetObject needs s3:GetObject on the object; for a key that does not exist S3 answers 404
 *   NoSuchKey to a caller allowed s3:ListBucket on the bucket and 403 AccessDenied to any other
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"). The request
 *   is a GetObject, so it carries no list parameters: a ListBucket grant that requires s3:prefix
 *   does not count.
 * - PutObject needs s3:PutObject, and with If-Match s3:GetObject too
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
 * - GetSecretValue needs secretsmanager:GetSecretValue on the secret's complete ARN, whatever form of
 *   SecretId names it; denied, it answers AccessDeniedException.
 */
export async function startFakeAwsServices(options: FakeAwsServicesOptions): Promise<FakeAwsServices> {
  const { secret, caller = ANYONE } = options;
  const objects = new Map<string, { body: string; etag: string }>();
  let secretReads = 0;
  const allowed = (action: string, resource: string) => caller.allows(action, resource);

  const getSecretValue = async (body: string, response: http.ServerResponse) => {
    const { SecretId } = JSON.parse(body) as { SecretId: string };
    const found = namesSecret(SecretId, secret.arn);
    // A SecretId that names no secret is authorized as written, when it is an ARN.
    const resource = found ? secret.arn : SecretId.startsWith("arn:") ? SecretId : undefined;
    if (resource !== undefined && !(await allowed("secretsmanager:GetSecretValue", resource))) {
      return secretsError(
        response,
        "AccessDeniedException",
        denial(caller.roleArn, "secretsmanager:GetSecretValue", resource),
      );
    }
    if (!found) {
      return secretsError(response, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    }
    secretReads++;
    response.writeHead(200);
    response.end(
      JSON.stringify({
        ARN: secret.arn,
        Name: secretName(secret.arn),
        SecretString: secret.value,
        VersionId: "v1",
        VersionStages: ["AWSCURRENT"],
      }),
    );
  };

  const s3Request = async (request: http.IncomingMessage, body: string, response: http.ServerResponse) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://127.0.0.1").pathname.slice(1));
    const bucket = path.split("/")[0];
    const objectArn = `arn:aws:s3:::${path}`;
    const existing = objects.get(path);
    const deny = (action: string, resource: string) =>
      s3Error(response, 403, "AccessDenied", denial(caller.roleArn, action, resource));

    if (request.method === "GET") {
      if (!(await allowed("s3:GetObject", objectArn))) return deny("s3:GetObject", objectArn);
      if (!existing) {
        const bucketArn = `arn:aws:s3:::${bucket}`;
        if (!(await allowed("s3:ListBucket", bucketArn))) return deny("s3:ListBucket", bucketArn);
        return s3Error(response, 404, "NoSuchKey", "The specified key does not exist.");
      }
      response.writeHead(200, { etag: existing.etag, "content-type": "application/json" });
      response.end(existing.body);
      return;
    }
    if (request.method !== "PUT") return s3Error(response, 405, "MethodNotAllowed", "not supported here");
    const ifNoneMatch = request.headers["if-none-match"];
    const ifMatch = request.headers["if-match"];
    if (!(await allowed("s3:PutObject", objectArn))) return deny("s3:PutObject", objectArn);
    if (ifMatch !== undefined && !(await allowed("s3:GetObject", objectArn))) return deny("s3:GetObject", objectArn);
    if (ifNoneMatch === "*" && existing) return s3Error(response, 412, "PreconditionFailed", PRECONDITION_FAILED);
    if (ifMatch !== undefined && (!existing || existing.etag !== ifMatch)) {
      return s3Error(response, 412, "PreconditionFailed", PRECONDITION_FAILED);
    }
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    objects.set(path, { body, etag });
    response.writeHead(200, { etag });
    response.end();
  };

  const handle = async (request: http.IncomingMessage, body: string, response: http.ServerResponse) => {
    const target = request.headers["x-amz-target"];
    if (typeof target !== "string" || !target.startsWith("secretsmanager.")) return s3Request(request, body, response);
    response.setHeader("content-type", "application/x-amz-json-1.1");
    if (target !== "secretsmanager.GetSecretValue") {
      return secretsError(response, "UnknownOperationException", `${target} is not supported here`);
    }
    return getSecretValue(body, response);
  };
  const server = await listenOnLoopback(
    (request, body, response) => {
      // An error of the fake itself (the simulator refusing a request) answers 500 with the reason.
      handle(request, body, response).catch((error: unknown) => {
        response.writeHead(500);
        response.end(String(error));
      });
    },
    { keepAliveTimeoutMs: 1_000 },
  );
  return { ...server, objects, secretReads: () => secretReads };
}
