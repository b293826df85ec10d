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

/**
 * A resource type this model has no id or output format for. Tests treat it as a failure (a new type
 * needs its documented format here); the offline plan of a user's program answers such a resource
 * with its inputs alone, so its outputs stay unknown, as in a first `pulumi preview`.
 */
export class UnmodelledTypeError extends Error {}

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
 * How pulumi-aws auto-names each type, read from pulumi/pulumi-aws provider/resources.go
 * (`ProviderFromMeta`, the `Resources` entry of each TF type, and `setAutonaming`): the property
 * that carries the name and `tfbridge.AutoName(<property>, <maxlen>, "-")` -- the logical name, a
 * dash and 7 random hex characters, at most `maxLength` -- and, for S3, `AutoNameTransform`
 * lowercasing it; SQS and SNS add `.fifo` after the random part for FIFO queues and topics (the
 * `PostTransform` of their `AutoNameWithCustomOptions`, applied after the bridge's length check, so
 * that check does not count it). Types the file does not list by field get `setAutonaming`'s
 * `AutoName("name", 255, "-")`: the service's own limit (AWS_NAME_RULES) then refuses the name at
 * create time instead.
 */
const AWS_AUTONAME: Record<string, { property: string; maxLength: number; lowercase?: boolean; fifo?: string }> = {
  // "aws_lambda_function": "function_name": tfbridge.AutoName("name", 64, "-")
  "aws:lambda/function:Function": { property: "name", maxLength: 64 },
  // "aws_iam_role": "name": tfbridge.AutoName("name", 64, "-")
  "aws:iam/role:Role": { property: "name", maxLength: 64 },
  // "aws_sqs_queue": AutoNameWithCustomOptions{Separator "-", Maxlen 80, Randlen 7, PostTransform ".fifo"}
  "aws:sqs/queue:Queue": { property: "name", maxLength: 80, fifo: "fifoQueue" },
  // "aws_sns_topic": AutoNameWithCustomOptions{Separator "-", Maxlen 80, Randlen 7, PostTransform ".fifo"}
  "aws:sns/topic:Topic": { property: "name", maxLength: 80, fifo: "fifoTopic" },
  // "aws_s3_bucket": "bucket": tfbridge.AutoNameTransform("bucket", 63, strings.ToLower)
  "aws:s3/bucket:Bucket": { property: "bucket", maxLength: 63, lowercase: true },
  // "aws_cloudwatch_event_rule": "name": tfbridge.AutoName("name", 64, "-")
  "aws:cloudwatch/eventRule:EventRule": { property: "name", maxLength: 64 },
  // aws_scheduler_schedule, aws_cloudwatch_log_group, aws_launch_template, aws_iam_role_policy: no
  // field entry, so setAutonaming's AutoName("name", 255, "-").
  "aws:scheduler/schedule:Schedule": { property: "name", maxLength: 255 },
  "aws:cloudwatch/logGroup:LogGroup": { property: "name", maxLength: 255 },
  "aws:ec2/launchTemplate:LaunchTemplate": { property: "name", maxLength: 255 },
  "aws:iam/rolePolicy:RolePolicy": { property: "name", maxLength: 255 },
};

/**
 * Pulumi's `resource.NewUniqueHex(prefix, randlen, maxlen)` (pulumi/pulumi
 * sdk/go/common/resource/properties.go), which the bridge's AutoName calls with `prefix` = logical
 * name + "-" and randlen 7 (so the suffix is 8 characters with the dash): its error text when
 * `len(prefix) + randlen > maxlen`. The random part is derived from the name, so a plan is stable.
 */
function newUniqueHex(prefix: string, randomLength: number, maxLength: number, seed: string): string {
  if (prefix.length + randomLength > maxLength) {
    throw new Error(`name '${prefix}' plus ${randomLength} random chars is longer than maximum length ${maxLength}`);
  }
  return `${prefix}${stableHex(seed, randomLength)}`;
}

/** The name pulumi-aws's auto-naming gives a resource of `type` the program did not name. */
function autoName(type: string, logicalName: string, inputs: Record<string, any>): string {
  const rule = AWS_AUTONAME[type] ?? { property: "name", maxLength: 255 };
  const name = newUniqueHex(`${logicalName}-`, 7, rule.maxLength, logicalName);
  const fifo = rule.fifo !== undefined && inputs[rule.fifo] === true;
  return `${rule.lowercase ? name.toLowerCase() : name}${fifo ? ".fifo" : ""}`;
}

/**
 * What each AWS API accepts as a name (the `Name` parameter of CreateFunction, CreateRole,
 * CreateQueue, CreateTopic, PutRule, CreateSchedule, CreateLogGroup, CreateLaunchTemplate,
 * PutRolePolicy, PutLifecycleHook, CreateAutoScalingGroup, CreateSecret, PutMetricAlarm in each
 * service's API reference; S3's "General purpose bucket naming rules"). The call fails at create
 * time, halfway through `pulumi up`, when the name breaks it.
 */
const AWS_NAME_RULES: Record<string, (name: string, inputs: Record<string, any>) => boolean> = {
  "aws:lambda/function:Function": (n) => /^[A-Za-z0-9_-]{1,64}$/.test(n),
  "aws:iam/role:Role": (n) => /^[\w+=,.@-]{1,64}$/.test(n),
  "aws:sqs/queue:Queue": (n, inputs) =>
    inputs.fifoQueue === true ? /^[A-Za-z0-9_-]{1,75}\.fifo$/.test(n) : /^[A-Za-z0-9_-]{1,80}$/.test(n),
  "aws:sns/topic:Topic": (n, inputs) =>
    inputs.fifoTopic === true ? /^[A-Za-z0-9_-]{1,251}\.fifo$/.test(n) : /^[A-Za-z0-9_-]{1,256}$/.test(n),
  "aws:s3/bucket:Bucket": (n) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(n) && !n.includes(".."),
  "aws:cloudwatch/eventRule:EventRule": (n) => /^[A-Za-z0-9._-]{1,64}$/.test(n),
  "aws:scheduler/schedule:Schedule": (n) => /^[A-Za-z0-9._-]{1,64}$/.test(n),
  "aws:cloudwatch/logGroup:LogGroup": (n) => /^[A-Za-z0-9._/#-]{1,512}$/.test(n),
  "aws:ec2/launchTemplate:LaunchTemplate": (n) => /^[A-Za-z0-9()./_-]{3,128}$/.test(n),
  "aws:iam/rolePolicy:RolePolicy": (n) => /^[\w+=,.@-]{1,128}$/.test(n),
  "aws:autoscaling/lifecycleHook:LifecycleHook": (n) => /^[A-Za-z0-9/_-]{1,255}$/.test(n),
  "aws:autoscaling/group:Group": (n) => n.length >= 1 && n.length <= 255,
  "aws:secretsmanager/secret:Secret": (n) => /^[A-Za-z0-9/_+=.@-]{1,512}$/.test(n),
  "aws:cloudwatch/metricAlarm:MetricAlarm": (n) => n.length >= 1 && n.length <= 255,
};

/** An error as a provider reports a create call the service refused for the name. */
function nameRejected(type: string, logicalName: string, name: string): Error {
  return new Error(`${type} "${logicalName}": the service rejects the name "${name}" (${name.length} characters)`);
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
    id: inputs.statementId ?? autoName("aws:lambda/permission:Permission", logical, {}),
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
    const targetId = inputs.targetId ?? autoName("aws:cloudwatch/eventTarget:EventTarget", logical, {});
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
  "aws:s3/bucket:Bucket": (bucket) => {
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
    // A replaced ENI (another subnet or IP) is a new ENI, with a new id.
    const id = `eni-${stableHex(`${logical}/${inputs.subnetId}/${inputs.privateIps}`, 17)}`;
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
  "aws:ec2/launchTemplate:LaunchTemplate": (physical, _, logical) => {
    const id = `lt-${stableHex(logical, 17)}`;
    return {
      id,
      state: {
        name: physical,
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
 * Child resources (a PUT path under another resource's), which azure-native auto-names with
 * `AutoNameCopy`: the logical name alone, no suffix (`getDefaultName`,
 * provider/pkg/provider/provider.go).
 */
export const AZURE_CHILD_TYPES = new Set([
  "azure-native:storage:BlobContainer",
  "azure-native:storage:Queue",
  "azure-native:servicebus:Queue",
  "azure-native:eventgrid:SystemTopicEventSubscription",
]);

/**
 * azure-native's auto-name, `getDefaultName` in pulumi/pulumi-azure-native
 * provider/pkg/provider/provider.go: `AutoNameRandom` is the logical name and 8 random hex
 * characters, no separator and no length cap (`resource.NewUniqueName(seed, name, 8, 0, nil)`), with
 * nothing dropped, so a logical name with capitals or hyphens gives a storage account name ARM
 * refuses; `AutoNameCopy` (the child resources below) is the logical name as it is; `AutoNameUuid`
 * (role assignments) a GUID.
 */
function azureAutoName(type: string, logicalName: string): string {
  if (type === "azure-native:authorization:RoleAssignment") return stableGuid(logicalName);
  if (AZURE_CHILD_TYPES.has(type)) return logicalName;
  return `${logicalName}${stableHex(logicalName, 8)}`;
}

const STORAGE_CHILD = (n: string) => /^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(n) && !n.includes("--");
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * What ARM accepts as each type's name
 * (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules): a PUT
 * with another name fails, halfway through `pulumi up`.
 */
const AZURE_NAME_RULES: Record<string, (name: string) => boolean> = {
  "azure-native:storage:StorageAccount": (n) => /^[a-z0-9]{3,24}$/.test(n),
  "azure-native:storage:BlobContainer": STORAGE_CHILD,
  "azure-native:storage:Queue": STORAGE_CHILD,
  "azure-native:storage:ManagementPolicy": (n) => n === "default",
  "azure-native:web:WebApp": (n) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])$/.test(n),
  "azure-native:web:AppServicePlan": (n) => /^[A-Za-z0-9-]{1,60}$/.test(n),
  "azure-native:operationalinsights:Workspace": (n) => /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/.test(n),
  "azure-native:applicationinsights:Component": (n) => /^[^%&\\?/\p{Cc}]{1,260}$/u.test(n),
  "azure-native:servicebus:Namespace": (n) =>
    /^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$/.test(n) && !/-(sb|mgmt)$/i.test(n),
  "azure-native:servicebus:Queue": (n) => /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$/.test(n),
  "azure-native:eventgrid:SystemTopic": (n) => /^[A-Za-z0-9-]{3,128}$/.test(n),
  "azure-native:eventgrid:SystemTopicEventSubscription": (n) => /^[A-Za-z0-9-]{3,64}$/.test(n),
  "azure-native:resources:ResourceGroup": (n) => /^[\w().-]{0,89}[\w()-]$/u.test(n),
  "azure-native:monitor:MetricAlert": (n) => /^[^*#&+:<>?@%{}\\/]{1,260}$/.test(n),
  "azure-native:authorization:RoleAssignment": (n) => GUID.test(n),
};

/** A resource id under a resource group (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules). */
function groupResourceId(resourceGroup: string, armType: string, name: string): string {
  return `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/${resourceGroup}/providers/${armType}/${name}`;
}

function azureState(type: string, logicalName: string, inputs: Record<string, any>): ProviderState {
  const name: string = inputs[AZURE_NAME_INPUTS[type] ?? "name"] ?? azureAutoName(type, logicalName);
  const accepts = AZURE_NAME_RULES[type];
  if (accepts && !accepts(name)) throw nameRejected(type, logicalName, name);
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
      if (!armType) throw new UnmodelledTypeError(`provider-state: no ARM type for ${type}; add it to AZURE_ARM_TYPES`);
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
    const property = AWS_AUTONAME[type]?.property ?? "name";
    const physical: string = inputs[property] ?? autoName(type, logicalName, inputs);
    const accepts = AWS_NAME_RULES[type];
    if (accepts && !accepts(physical, inputs)) throw nameRejected(type, logicalName, physical);
    const { id, state } = aws(physical, inputs, logicalName);
    return { id, state: { ...inputs, ...state, id } };
  }
  if (type.startsWith("aws:")) {
    throw new UnmodelledTypeError(
      `provider-state: no id/ARN format for ${type}; add it to the AWS table with its documented format`,
    );
  }
  if (type.startsWith("azure-native:")) {
    const { id, state } = azureState(type, logicalName, inputs);
    return { id, state: { ...inputs, ...state } };
  }
  return { id: `${logicalName}-id`, state: { ...inputs } };
}
