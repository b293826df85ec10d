/**
 * The delivery ledger's bucket: where the consumer records each sent job (S3 conditional writes),
 * so that a retried run notifies nobody twice. Records expire once no job that they guard can arrive.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LEDGER_PREFIX } from "../../runtime/scheduled-notifier/contract";
import { denyInsecureTransport } from "../aws/secure-defaults";
import { applyTransform, type Transform } from "../core/transform";

/** A private, encrypted, TLS-only bucket whose ledger records expire after `retentionDays`. */
export function ledgerBucket(
  name: string,
  retentionDays: number,
  transform: Transform<aws.s3.BucketArgs> | undefined,
  opts: pulumi.CustomResourceOptions,
): aws.s3.Bucket {
  const bucket = new aws.s3.Bucket(`${name}-ledger`, applyTransform(transform, {}), opts);
  new aws.s3.BucketPublicAccessBlock(
    `${name}-ledger-public-access`,
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    opts,
  );
  new aws.s3.BucketOwnershipControls(
    `${name}-ledger-ownership`,
    { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
    opts,
  );
  new aws.s3.BucketServerSideEncryptionConfiguration(
    `${name}-ledger-encryption`,
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
    opts,
  );
  new aws.s3.BucketLifecycleConfiguration(
    `${name}-ledger-expiry`,
    {
      bucket: bucket.id,
      rules: [
        {
          id: "expire-ledger-records",
          status: "Enabled",
          filter: { prefix: LEDGER_PREFIX },
          expiration: { days: retentionDays },
        },
      ],
    },
    opts,
  );
  new aws.s3.BucketPolicy(
    `${name}-ledger-policy`,
    {
      bucket: bucket.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [denyInsecureTransport([bucket.arn, pulumi.interpolate`${bucket.arn}/*`], "s3:*")],
      }),
    },
    opts,
  );
  return bucket;
}
