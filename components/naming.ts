/**
 * Physical names for resources whose names Azure requires to be globally unique and restricted in
 * shape, derived deterministically from the project, stack and logical name so two instances or two
 * stacks never collide and a re-run never renames anything.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/** 8 hex characters that tell this project/stack/name apart from every other. */
export function uniqueSuffix(logicalName: string): string {
  const scope = `${pulumi.getProject()}/${pulumi.getStack()}/${logicalName}`;
  return createHash("sha256").update(scope).digest("hex").slice(0, 8);
}

/** A storage account name: 3..24 lowercase letters and digits, globally unique. */
export function storageAccountName(logicalName: string): string {
  const prefix =
    logicalName
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "")
      .slice(0, 16) || "qp";
  return `${prefix}${uniqueSuffix(logicalName)}`;
}
