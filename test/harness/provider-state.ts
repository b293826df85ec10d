/**
 * The ids and computed outputs the providers return for each resource type this project creates,
 * in the formats the providers document (the "Import" section of each resource's page on
 * https://www.pulumi.com/registry/packages/aws/api-docs/ and .../azure-native/api-docs/ gives the
 * id; the service's ARN reference gives the ARN:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 * Random parts (ENI ids, ASG group ids, secret suffixes) are derived from the logical name, so a
 * plan is the same on every run.
 */
import { createHash } from "node:crypto";

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "us-east-1";
export const MOCK_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
export const MOCK_TENANT = "11111111-1111-1111-1111-111111111111";

/** What `newResource` answers: the id and the state (inputs plus what the provider computes). */
export interface ProviderState {
  id: string;
  state: Record<string, any>;
}

/** Hex digits derived from `seed`, standing in for the random part of a provider-made id. */
export function stableHex(seed: string, length: number): string {
  return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

/** A GUID derived from `seed` (Azure principal ids, ASG group ids, Lambda mapping UUIDs). */
export function stableGuid(seed: string): string {
  const hex = stableHex(seed, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The name a provider's auto-naming gives a resource the program did not name: the logical name, a
 * dash and 7 random characters (https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming);
 * FIFO queues and topics keep their required `.fifo` suffix.
 */
function autoName(logicalName: string, inputs: Record<string, any>): string {
  const fifo = inputs.fifoQueue === true || inputs.fifoTopic === true;
  return `${logicalName}-${stableHex(logicalName, 7)}${fifo ? ".fifo" : ""}`;
}

const arn = (service: string, resource: string, region = MOCK_REGION) =>
  `arn:aws:${service}:${region}:${MOCK_ACCOUNT}:${resource}`;

type AwsState = (physical: string, inputs: Record<string, any>, logicalName: string) => ProviderState;

/** Per AWS type: the id (as `pulumi import` takes it) and the ARN and other computed outputs. */
const AWS: Record<string, AwsState> = {
  "aws:sqs/queue:Queue": (name) => {
    const url = `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${name}`;
    return { id: url, state: { name, url, arn: arn("sqs", name) } };
  },
  "aws:sqs/queuePolicy:QueuePolicy": (_, inputs) => ({ id: inputs.queueUrl, state: {} }),
  "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": (_, inputs) => ({ id: inputs.queueUrl, state: {} }),
  "aws:sns/topic:Topic": (name) => ({ id: arn("sns", name), state: { name, arn: arn("sns", name) } }),
  "aws:sns/topicPolicy:TopicPolicy": (_, inputs) => ({ id: inputs.arn, state: { owner: MOCK_ACCOUNT } }),
  "aws:sns/topicSubscription:TopicSubscription": (_, inputs, logical) => {
    const subscriptionArn = `${inputs.topic}:${stableGuid(logical)}`;
    return { id: subscriptionArn, state: { arn: subscriptionArn, owner: MOCK_ACCOUNT } };
  },
  "aws:lambda/function:Function": (name) => {
    const functionArn = arn("lambda", `function:${name}`);
    return {
      id: name,
      state: {
        name,
        arn: functionArn,
        qualifiedArn: `${functionArn}:$LATEST`,
        invokeArn: `arn:aws:apigateway:${MOCK_REGION}:lambda:path/2015-03-31/functions/${functionArn}/invocations`,
        version: "$LATEST",
      },
    };
  },
  "aws:lambda/eventSourceMapping:EventSourceMapping": (_, inputs, logical) => {
    const uuid = stableGuid(logical);
    return {
      id: uuid,
      state: { uuid, arn: arn("lambda", `event-source-mapping:${uuid}`), functionArn: inputs.functionName },
    };
  },
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (_, inputs) => ({
    id: inputs.qualifier ? `${inputs.functionName}:${inputs.qualifier}` : inputs.functionName,
    state: {},
  }),
  "aws:lambda/permission:Permission": (_, inputs, logical) => ({
    id: inputs.statementId ?? autoName(logical, {}),
    state: {},
  }),
  "aws:iam/role:Role": (name) => ({
    id: name,
    state: {
      name,
      arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${name}`,
      uniqueId: `AROA${stableHex(name, 17).toUpperCase()}`,
    },
  }),
  "aws:iam/rolePolicy:RolePolicy": (name, inputs) => ({ id: `${inputs.role}:${name}`, state: { name } }),
  "aws:cloudwatch/logGroup:LogGroup": (name) => ({
    // The provider drops the `:*` the API appends to a log group's ARN.
    id: name,
    state: { name, arn: arn("logs", `log-group:${name}`) },
  }),
  "aws:cloudwatch/eventRule:EventRule": (name, inputs) => {
    const bus = inputs.eventBusName && inputs.eventBusName !== "default" ? `${inputs.eventBusName}/` : "";
    return { id: `${bus}${name}`, state: { name, arn: arn("events", `rule/${bus}${name}`) } };
  },
  "aws:cloudwatch/eventTarget:EventTarget": (_, inputs, logical) => {
    const targetId = inputs.targetId ?? autoName(logical, {});
    return { id: `${inputs.rule}-${targetId}`, state: { targetId } };
  },
  "aws:cloudwatch/metricAlarm:MetricAlarm": (name) => ({
    id: name,
    state: { name, arn: arn("cloudwatch", `alarm:${name}`) },
  }),
  "aws:scheduler/schedule:Schedule": (name, inputs) => {
    const group = inputs.groupName ?? "default";
    return {
      id: `${group}/${name}`,
      state: { name, groupName: group, arn: arn("scheduler", `schedule/${group}/${name}`) },
    };
  },
  "aws:secretsmanager/secret:Secret": (name) => {
    // Secrets Manager appends a dash and 6 random characters to every secret's ARN.
    const secretArn = arn("secretsmanager", `secret:${name}-${stableHex(name, 6)}`);
    return { id: secretArn, state: { name, arn: secretArn } };
  },
  "aws:secretsmanager/secretVersion:SecretVersion": (_, inputs, logical) => {
    const versionId = stableGuid(logical);
    return { id: `${inputs.secretId}|${versionId}`, state: { arn: inputs.secretId, versionId } };
  },
  "aws:s3/bucket:Bucket": (_, inputs, logical) => {
    const bucket = inputs.bucket ?? autoName(logical, {}).toLowerCase();
    return {
      id: bucket,
      state: {
        bucket,
        arn: `arn:aws:s3:::${bucket}`,
        bucketDomainName: `${bucket}.s3.amazonaws.com`,
        bucketRegionalDomainName: `${bucket}.s3.${MOCK_REGION}.amazonaws.com`,
        region: MOCK_REGION,
      },
    };
  },
  "aws:s3/bucketPolicy:BucketPolicy": (_, inputs) => ({ id: inputs.bucket, state: {} }),
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (_, inputs) => ({ id: inputs.bucket, state: {} }),
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (_, inputs) => ({ id: inputs.bucket, state: {} }),
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (_, inputs) => ({
    id: inputs.bucket,
    state: {},
  }),
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (_, inputs) => ({
    id: inputs.bucket,
    state: {},
  }),
  "aws:ec2/networkInterface:NetworkInterface": (_, inputs, logical) => {
    const id = `eni-${stableHex(logical, 17)}`;
    return {
      id,
      state: {
        arn: arn("ec2", `network-interface/${id}`),
        privateIp: inputs.privateIps?.[0] ?? "10.0.0.10",
        macAddress: "02:00:00:00:00:01",
        ownerId: MOCK_ACCOUNT,
      },
    };
  },
  "aws:ec2/launchTemplate:LaunchTemplate": (_, inputs, logical) => {
    const id = `lt-${stableHex(logical, 17)}`;
    return {
      id,
      state: {
        name: inputs.name ?? autoName(logical, {}),
        arn: arn("ec2", `launch-template/${id}`),
        latestVersion: 1,
        defaultVersion: 1,
      },
    };
  },
  "aws:autoscaling/group:Group": (name, _, logical) => ({
    id: name,
    state: {
      name,
      arn: `arn:aws:autoscaling:${MOCK_REGION}:${MOCK_ACCOUNT}:autoScalingGroup:${stableGuid(logical)}:autoScalingGroupName/${name}`,
    },
  }),
  "aws:autoscaling/lifecycleHook:LifecycleHook": (name) => ({ id: name, state: { name } }),
};

/** The ARM type of each azure-native resource, as its resource id spells it. */
const AZURE_ARM_TYPES: Record<string, string> = {
  "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts",
  "azure-native:web:WebApp": "Microsoft.Web/sites",
  "azure-native:web:AppServicePlan": "Microsoft.Web/serverfarms",
  "azure-native:servicebus:Namespace": "Microsoft.ServiceBus/namespaces",
  "azure-native:eventgrid:SystemTopic": "Microsoft.EventGrid/systemTopics",
  "azure-native:applicationinsights:Component": "Microsoft.Insights/components",
  "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
  "azure-native:monitor:MetricAlert": "Microsoft.Insights/metricAlerts",
  "azure-native:monitor:ScheduledQueryRule": "Microsoft.Insights/scheduledQueryRules",
};

/** The input that carries an azure-native resource's own name, where it is not `name`. */
const AZURE_NAME_INPUTS: Record<string, string> = {
  "azure-native:storage:StorageAccount": "accountName",
  "azure-native:storage:BlobContainer": "containerName",
  "azure-native:storage:Queue": "queueName",
  "azure-native:storage:ManagementPolicy": "managementPolicyName",
  "azure-native:servicebus:Namespace": "namespaceName",
  "azure-native:servicebus:Queue": "queueName",
  "azure-native:eventgrid:SystemTopic": "systemTopicName",
  "azure-native:eventgrid:SystemTopicEventSubscription": "eventSubscriptionName",
  "azure-native:resources:ResourceGroup": "resourceGroupName",
  "azure-native:authorization:RoleAssignment": "roleAssignmentName",
  "azure-native:web:AppServicePlan": "name",
  "azure-native:web:WebApp": "name",
  "azure-native:applicationinsights:Component": "resourceName",
  "azure-native:operationalinsights:Workspace": "workspaceName",
  "azure-native:monitor:MetricAlert": "ruleName",
  "azure-native:monitor:ScheduledQueryRule": "ruleName",
};

/**
 * azure-native's auto-name: the logical name and 8 random characters (storage accounts allow only
 * lowercase letters and digits, so no dash); role assignments are named by a GUID.
 */
function azureAutoName(type: string, logicalName: string): string {
  if (type === "azure-native:authorization:RoleAssignment") return stableGuid(logicalName);
  const suffix = stableHex(logicalName, 8);
  if (type === "azure-native:storage:StorageAccount") return `${logicalName.replace(/[^a-z0-9]/g, "")}${suffix}`;
  return `${logicalName}${suffix}`;
}

/** A resource id under a resource group (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules). */
function groupResourceId(resourceGroup: string, armType: string, name: string): string {
  return `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/${resourceGroup}/providers/${armType}/${name}`;
}

function azureState(type: string, logicalName: string, inputs: Record<string, any>): ProviderState {
  const name: string = inputs[AZURE_NAME_INPUTS[type] ?? "name"] ?? azureAutoName(type, logicalName);
  const group: string = inputs.resourceGroupName ?? "rg";
  const account = () => groupResourceId(group, "Microsoft.Storage/storageAccounts", inputs.accountName);
  const state: Record<string, any> = { name };
  let id: string;
  switch (type) {
    case "azure-native:resources:ResourceGroup":
      id = `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/${name}`;
      break;
    case "azure-native:storage:Queue":
      id = `${account()}/queueServices/default/queues/${name}`;
      break;
    case "azure-native:storage:BlobContainer":
      id = `${account()}/blobServices/default/containers/${name}`;
      break;
    case "azure-native:storage:ManagementPolicy":
      id = `${account()}/managementPolicies/default`;
      break;
    case "azure-native:servicebus:Queue":
      id = `${groupResourceId(group, "Microsoft.ServiceBus/namespaces", inputs.namespaceName)}/queues/${name}`;
      break;
    case "azure-native:eventgrid:SystemTopicEventSubscription":
      id = `${groupResourceId(group, "Microsoft.EventGrid/systemTopics", inputs.systemTopicName)}/eventSubscriptions/${name}`;
      break;
    case "azure-native:authorization:RoleAssignment":
      // A role assignment's id is its scope's id with the assignment appended.
      id = `${inputs.scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
      break;
    default: {
      const armType = AZURE_ARM_TYPES[type];
      if (!armType) throw new Error(`provider-state: no ARM type for ${type}; add it to AZURE_ARM_TYPES`);
      id = groupResourceId(group, armType, name);
    }
  }
  if (type === "azure-native:web:WebApp" || inputs.identity?.type === "SystemAssigned") {
    state.identity = { ...inputs.identity, principalId: stableGuid(`${id}/identity`), tenantId: MOCK_TENANT };
  }
  if (type === "azure-native:web:WebApp") {
    state.defaultHostName = `${name}.azurewebsites.net`;
    state.hostNameSslStates = [
      { name: `${name}.azurewebsites.net`, hostType: "Standard" },
      { name: `${name}.scm.azurewebsites.net`, hostType: "Repository" },
    ];
  }
  if (type === "azure-native:storage:StorageAccount") {
    state.primaryEndpoints = {
      blob: `https://${name}.blob.core.windows.net/`,
      queue: `https://${name}.queue.core.windows.net/`,
    };
  }
  if (type === "azure-native:servicebus:Namespace") {
    state.serviceBusEndpoint = `https://${name}.servicebus.windows.net:443/`;
  }
  if (type === "azure-native:applicationinsights:Component") {
    const key = stableGuid(id);
    state.instrumentationKey = key;
    state.connectionString = `InstrumentationKey=${key};IngestionEndpoint=https://${MOCK_REGION}.in.applicationinsights.azure.com/`;
  }
  return { id, state: { ...state, id } };
}

/**
 * The id and state a provider returns for a new resource of `type` named `logicalName` with these
 * inputs. Component resources and dynamic resources keep the inputs and get a name-based id.
 */
export function providerState(type: string, logicalName: string, inputs: Record<string, any>): ProviderState {
  const aws = AWS[type];
  if (aws) {
    const physical: string = inputs.name ?? autoName(logicalName, inputs);
    const { id, state } = aws(physical, inputs, logicalName);
    return { id, state: { ...inputs, ...state, id } };
  }
  if (type.startsWith("aws:")) {
    throw new Error(`provider-state: no id/ARN format for ${type}; add it to the AWS table with its documented format`);
  }
  if (type.startsWith("azure-native:")) {
    const { id, state } = azureState(type, logicalName, inputs);
    return { id, state: { ...inputs, ...state } };
  }
  return { id: `${logicalName}-id`, state: { ...inputs } };
}
