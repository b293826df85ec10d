/**
 * What the providers answer to the functions (invokes) a stack of these components calls, in the
 * providers' documented shapes, with the ids of provider-state.ts. Anything else is not answered:
 * tests fail loudly when a component starts calling something new, and the offline plan says which
 * function it cannot answer without asking the cloud.
 */
import { MOCK_ACCOUNT, MOCK_REGION, MOCK_SUBSCRIPTION, MOCK_TENANT } from "./provider-state";

/** A function's answer to its arguments. */
export type CallAnswer = (inputs: Record<string, any>) => Record<string, any>;

/** The Azure client functions every Azure component invokes (role ids). */
export const AZURE_CLIENT_CALLS: Record<string, CallAnswer> = {
  "azure-native:authorization:getClientConfig": () => ({
    subscriptionId: MOCK_SUBSCRIPTION,
    tenantId: MOCK_TENANT,
    clientId: "client",
    objectId: "deployer-object-id",
  }),
};

/** AWS's public SSM parameters, as the dev stack reads the latest Amazon Linux AMI from them. */
export const AWS_PUBLIC_PARAMETER_CALLS: Record<string, CallAnswer> = {
  "aws:ssm/getParameter:getParameter": ({ name }) => {
    if (!String(name).startsWith("/aws/service/ami-amazon-linux-latest/")) {
      throw new Error(`unmocked SSM parameter ${name}`);
    }
    return { id: name, name, type: "String", value: "ami-0123456789abcdef0", version: 1, withDecryption: true };
  },
};

/**
 * The account lookups a user's own stack commonly makes beside the components (who am I, which
 * region and partition), answered for the offline plan only.
 */
export const AWS_ACCOUNT_CALLS: Record<string, CallAnswer> = {
  "aws:index/getCallerIdentity:getCallerIdentity": () => ({
    accountId: MOCK_ACCOUNT,
    arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/deployer`,
    id: MOCK_ACCOUNT,
    userId: "AIDAEXAMPLEDEPLOYER",
  }),
  "aws:index/getRegion:getRegion": () => ({ id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION }),
  "aws:index/getPartition:getPartition": () => ({
    id: "aws",
    partition: "aws",
    dnsSuffix: "amazonaws.com",
    reverseDnsPrefix: "com.amazonaws",
  }),
};
