/**
 * The two AWS services fauxqs lacks, for ScheduledNotifier's tests: S3 with conditional writes
 * (`If-None-Match: *`, `If-Match`) for the delivery ledger, and Secrets Manager's GetSecretValue,
 * on one loopback port.
 */
import { createHash } from "node:crypto";
import type * as http from "node:http";
import { type LoopbackServer, listenOnLoopback } from "./loopback-server";

export interface FakeAwsServices extends LoopbackServer {
  /** Ledger objects by `<bucket>/<key>`. */
  objects: Map<string, { body: string; etag: string }>;
  /** GetSecretValue calls answered. */
  secretReads(): number;
}

function s3Error(response: http.ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { "content-type": "application/xml" });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/**
 * S3 (path-style PutObject/GetObject with S3's documented conditional-write rules) and Secrets
 * Manager (GetSecretValue for one secret), on one loopback port. Point the SDK at it with
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
export async function startFakeAwsServices(secret: { arn: string; value: string }): Promise<FakeAwsServices> {
  const objects = new Map<string, { body: string; etag: string }>();
  let secretReads = 0;
  const server = await listenOnLoopback(
    (request, body, response) => {
      const target = request.headers["x-amz-target"];
      if (typeof target === "string" && target.startsWith("secretsmanager.")) {
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        response.setHeader("content-type", "application/x-amz-json-1.1");
        if (target !== "secretsmanager.GetSecretValue" || SecretId !== secret.arn) {
          response.writeHead(400);
          response.end(JSON.stringify({ __type: "ResourceNotFoundException", message: `no secret ${SecretId}` }));
          return;
        }
        secretReads++;
        response.writeHead(200);
        response.end(
          JSON.stringify({
            ARN: secret.arn,
            Name: "api-token",
            SecretString: secret.value,
            VersionId: "v1",
            VersionStages: ["AWSCURRENT"],
          }),
        );
        return;
      }
      const key = decodeURIComponent(new URL(request.url ?? "/", "http://127.0.0.1").pathname.slice(1));
      const existing = objects.get(key);
      if (request.method === "GET") {
        if (!existing) return s3Error(response, 404, "NoSuchKey", "The specified key does not exist.");
        response.writeHead(200, { etag: existing.etag, "content-type": "application/json" });
        response.end(existing.body);
        return;
      }
      if (request.method !== "PUT") return s3Error(response, 405, "MethodNotAllowed", "not supported here");
      const ifNoneMatch = request.headers["if-none-match"];
      const ifMatch = request.headers["if-match"];
      if (ifNoneMatch === "*" && existing) {
        return s3Error(
          response,
          412,
          "PreconditionFailed",
          "At least one of the pre-conditions you specified did not hold",
        );
      }
      if (ifMatch !== undefined && (!existing || existing.etag !== ifMatch)) {
        return s3Error(
          response,
          412,
          "PreconditionFailed",
          "At least one of the pre-conditions you specified did not hold",
        );
      }
      const etag = `"${createHash("md5").update(body).digest("hex")}"`;
      objects.set(key, { body, etag });
      response.writeHead(200, { etag });
      response.end();
    },
    { keepAliveTimeoutMs: 1_000 },
  );
  return { ...server, objects, secretReads: () => secretReads };
}
