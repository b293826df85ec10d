/**
 * A model of what the providers do when an input of a resource this project creates changes: which
 * inputs replace the resource, and whether the replacement is deleted first. Each row cites the
 * provider source it follows:
 *
 * - pulumi-aws: the Terraform schema's `ForceNew` (and `CustomizeDiff` `ForceNewIf`) in
 *   hashicorp/terraform-provider-aws, bridged by pulumi-terraform-bridge, whose `Diff`
 *   (pkg/tfbridge/provider.go) asks for delete-before-replace when the resource has an auto-named
 *   property the program set itself (two resources cannot hold one fixed name).
 * - azure-native: `calculateDetailedDiff` (provider/pkg/provider/diff.go) replaces a resource when a
 *   parameter of its PUT path changes (its own name, its parent's name, `resourceGroupName`) or a
 *   property marked ForceNew: those in `forceNewMap` (provider/pkg/gen/replacement.go) and those the
 *   API spec marks `x-ms-mutability` create-only, which is how `location` replaces every tracked
 *   resource. Its `getDefaultName` (provider/pkg/provider/provider.go) records
 *   `__createBeforeDelete` only for a name it made at random (`AutoNameRandom`); a name the program
 *   set, and the logical name it copies for a child resource (`AutoNameCopy`), carry no flag, so
 *   their replacement deletes first.
 *
 * The engine uses the old value for an input named in `ignoreChanges`
 * (pulumi/pulumi pkg/resource/deploy/step_generator.go, `processIgnoreChanges`), so such an input
 * never replaces anything.
 */
import { isDeepStrictEqual } from "node:util";
import type { RecordedResource } from "../../testing/mocks";

export interface ReplacementRow {
  /** Inputs whose change replaces the resource. */
  replacedBy: readonly string[];
  /** Whether a replacement deletes the old resource first, given the new inputs. */
  deletesFirst: (inputs: Record<string, any>) => boolean;
  /** What a replacement loses, for a resource that holds data; absent for the others. */
  loses?: string;
  /** The provider source the row follows. */
  source: string;
}

const TF_AWS = "hashicorp/terraform-provider-aws internal/service/";
/** The bridge deletes first when the program set the auto-named property itself. */
const namedBy = (property: string) => (inputs: Record<string, any>) => inputs[property] !== undefined;
const AZURE_GEN =
  "pulumi/pulumi-azure-native provider/pkg/provider/diff.go calculateDetailedDiff (PUT path parameters, ForceNew) and provider/pkg/gen/replacement.go forceNewMap";
/** azure-native deletes first unless it named the resource at random (`AutoNameRandom`). */
const azureNamedBy = namedBy;
/** A child azure-native names by copying the logical name: delete-first whether or not the program named it. */
const azureCopyNamed = () => true;

export const REPLACEMENT_MODEL: Record<string, ReplacementRow> = {
  "aws:sqs/queue:Queue": {
    replacedBy: ["name", "namePrefix", "fifoQueue"],
    deletesFirst: namedBy("name"),
    loses: "every message in the queue",
    source: `${TF_AWS}sqs/queue.go (name, name_prefix, fifo_queue: ForceNew)`,
  },
  "aws:sns/topic:Topic": {
    replacedBy: ["name", "namePrefix", "fifoTopic"],
    deletesFirst: namedBy("name"),
    loses: "its subscriptions and the messages in flight",
    source: `${TF_AWS}sns/topic.go (name, name_prefix, fifo_topic: ForceNew)`,
  },
  "aws:s3/bucket:Bucket": {
    replacedBy: ["bucket", "bucketPrefix", "objectLockEnabled"],
    deletesFirst: namedBy("bucket"),
    loses: "every object in it (the delete fails while it holds objects, unless forceDestroy)",
    source: `${TF_AWS}s3/bucket.go (bucket, bucket_prefix, object_lock_enabled: ForceNew)`,
  },
  "aws:secretsmanager/secret:Secret": {
    replacedBy: ["name", "namePrefix"],
    deletesFirst: namedBy("name"),
    loses: "the secret's versions (the old secret is scheduled for deletion)",
    source: `${TF_AWS}secretsmanager/secret.go (name, name_prefix: ForceNew)`,
  },
  "aws:ec2/networkInterface:NetworkInterface": {
    // private_ip is Optional+Computed, not ForceNew: only the CustomizeDiff below replaces for an IP.
    replacedBy: ["subnetId", "privateIps", "privateIpList", "interfaceType"],
    deletesFirst: () => false,
    loses: "its private IP address and its attachment (the old ENI is force-detached when deleted)",
    source: `${TF_AWS}ec2/vpc_network_interface.go ResourceNetworkInterface (subnet_id, interface_type: ForceNew; CustomizeDiff ForceNewIf on private_ips when the old primary IP leaves the set, on private_ip_list when its first IP changes)`,
  },
  "aws:autoscaling/group:Group": {
    replacedBy: ["name", "namePrefix"],
    deletesFirst: namedBy("name"),
    loses: "its running instances",
    source: `${TF_AWS}autoscaling/group.go (name, name_prefix: ForceNew)`,
  },
  "aws:lambda/function:Function": {
    replacedBy: ["name", "packageType", "tenancyConfig"],
    deletesFirst: namedBy("name"),
    source: `${TF_AWS}lambda/function.go resourceFunction (function_name, package_type, tenancy_config: ForceNew)`,
  },
  "aws:iam/role:Role": {
    replacedBy: ["name", "namePrefix", "path"],
    deletesFirst: namedBy("name"),
    source: `${TF_AWS}iam/role.go ResourceRole (name, name_prefix, path: ForceNew)`,
  },
  "aws:ec2/launchTemplate:LaunchTemplate": {
    replacedBy: ["name", "namePrefix"],
    deletesFirst: namedBy("name"),
    source: `${TF_AWS}ec2/ec2_launch_template.go (name, name_prefix: ForceNew)`,
  },
  "aws:cloudwatch/eventRule:EventRule": {
    replacedBy: ["name", "namePrefix", "eventBusName"],
    deletesFirst: namedBy("name"),
    source: `${TF_AWS}events/rule.go resourceRule (name, name_prefix, event_bus_name: ForceNew)`,
  },
  "aws:scheduler/schedule:Schedule": {
    replacedBy: ["name", "namePrefix", "groupName"],
    deletesFirst: namedBy("name"),
    source: `${TF_AWS}scheduler/schedule.go resourceSchedule (name, name_prefix, group_name: ForceNew)`,
  },
  "aws:lambda/eventSourceMapping:EventSourceMapping": {
    replacedBy: ["eventSourceArn", "startingPosition", "startingPositionTimestamp"],
    deletesFirst: () => false,
    source: `${TF_AWS}lambda/event_source_mapping.go resourceEventSourceMapping (event_source_arn, starting_position, starting_position_timestamp: ForceNew; function_name updates in place)`,
  },
  "aws:sns/topicSubscription:TopicSubscription": {
    replacedBy: ["topic", "protocol", "endpoint"],
    deletesFirst: () => false,
    source: `${TF_AWS}sns/topic_subscription.go subscriptionSchema (topic_arn, protocol, endpoint: ForceNew)`,
  },
  "azure-native:storage:StorageAccount": {
    replacedBy: ["accountName", "resourceGroupName", "location", "isHnsEnabled"],
    deletesFirst: azureNamedBy("accountName"),
    loses: "every blob, queue message and the deployment package in it",
    source: `${AZURE_GEN} (path: accountName, resourceGroupName; forceNewMap Storage.StorageAccount: isHnsEnabled, location)`,
  },
  "azure-native:storage:BlobContainer": {
    replacedBy: ["containerName", "accountName", "resourceGroupName"],
    deletesFirst: azureCopyNamed,
    loses: "every blob in it",
    source: `${AZURE_GEN} (path: containerName, accountName, resourceGroupName; forceNewMap Storage.BlobContainer: none)`,
  },
  "azure-native:storage:Queue": {
    replacedBy: ["queueName", "accountName", "resourceGroupName"],
    deletesFirst: azureCopyNamed,
    loses: "every message in it",
    source: `${AZURE_GEN} (path: queueName, accountName, resourceGroupName)`,
  },
  "azure-native:servicebus:Namespace": {
    replacedBy: ["namespaceName", "resourceGroupName", "location"],
    deletesFirst: azureNamedBy("namespaceName"),
    loses: "every queue in it and their messages",
    source: `${AZURE_GEN} (path: namespaceName, resourceGroupName; location create-only; noForceNewMap: zoneRedundant updates in place)`,
  },
  "azure-native:servicebus:Queue": {
    replacedBy: [
      "queueName",
      "namespaceName",
      "resourceGroupName",
      "requiresSession",
      "requiresDuplicateDetection",
      "enablePartitioning",
    ],
    deletesFirst: azureCopyNamed,
    loses: "every queued and scheduled message and the duplicate-detection history",
    source: `${AZURE_GEN} (path: queueName, namespaceName, resourceGroupName; forceNewMap ServiceBus.Queue: requiresDuplicateDetection, requiresSession, enablePartitioning)`,
  },
  "azure-native:eventgrid:SystemTopic": {
    replacedBy: ["systemTopicName", "resourceGroupName", "location", "source", "topicType"],
    deletesFirst: azureNamedBy("systemTopicName"),
    source: `${AZURE_GEN} (path: systemTopicName, resourceGroupName; location create-only; source and topicType are not in forceNewMap, modelled as the EventGrid spec's create-only properties)`,
  },
  "azure-native:eventgrid:SystemTopicEventSubscription": {
    replacedBy: ["eventSubscriptionName", "systemTopicName", "resourceGroupName"],
    deletesFirst: azureCopyNamed,
    source: `${AZURE_GEN} (path: eventSubscriptionName, systemTopicName, resourceGroupName)`,
  },
  "azure-native:web:WebApp": {
    replacedBy: ["name", "resourceGroupName", "location", "kind"],
    deletesFirst: azureNamedBy("name"),
    source: `${AZURE_GEN} (path: name, resourceGroupName; forceNewMap Web.WebApp: location, kind)`,
  },
  "azure-native:web:AppServicePlan": {
    replacedBy: ["name", "resourceGroupName", "location"],
    deletesFirst: azureNamedBy("name"),
    source: `${AZURE_GEN} (path: name, resourceGroupName; forceNewMap Web.AppServicePlan: empty, "covered by x-ms-mutability": location)`,
  },
  "azure-native:authorization:RoleAssignment": {
    replacedBy: ["roleAssignmentName", "scope", "principalId"],
    // AutoNameUuid is a random name, so azure-native records __createBeforeDelete for it.
    deletesFirst: azureNamedBy("roleAssignmentName"),
    source: `${AZURE_GEN} (path: roleAssignmentName, scope; forceNewMap Authorization.RoleAssignment: principalId, scope)`,
  },
};

/** What the engine would do to one child between two runs of the program. */
export type ChangeImpact =
  "unchanged" | "updated in place" | "replaced create-first" | "replaced delete-first" | "deleted" | "created";

export interface ChildImpact {
  type: string;
  name: string;
  impact: ChangeImpact;
  /** The inputs that changed, after `ignoreChanges`. */
  changed: string[];
  /** The changed inputs that replace it. */
  replacing: string[];
  /** What a replacement loses, when the child holds data. */
  loses?: string;
}

/** The inputs of `after` that differ from `before`, leaving out those the engine ignores. */
function changedInputs(before: RecordedResource, after: RecordedResource): string[] {
  const ignored = new Set(after.options.ignoreChanges ?? []);
  const keys = new Set([...Object.keys(before.inputs), ...Object.keys(after.inputs)]);
  return [...keys].filter((key) => !ignored.has(key) && !isDeepStrictEqual(before.inputs[key], after.inputs[key]));
}

/**
 * Classifies every custom child (matched by type and logical name, as URNs are): those of `after`
 * against `before`, then those only one side declares (deleted or created by the update).
 */
export function classifyChanges(before: RecordedResource[], after: RecordedResource[]): ChildImpact[] {
  const key = (r: RecordedResource) => `${r.type}::${r.name}`;
  const earlier = new Map(before.filter((r) => r.custom).map((r) => [key(r), r]));
  const later = new Set(after.filter((r) => r.custom).map(key));
  const matched = after
    .filter((r) => r.custom && earlier.has(key(r)))
    .map((r): ChildImpact => {
      const old = earlier.get(key(r)) as RecordedResource;
      const changed = changedInputs(old, r);
      const row = REPLACEMENT_MODEL[r.type];
      const replaceOnChanges = r.options.replaceOnChanges ?? [];
      const replacing = changed.filter((k) => row?.replacedBy.includes(k) || replaceOnChanges.includes(k));
      let impact: ChangeImpact = changed.length === 0 ? "unchanged" : "updated in place";
      if (replacing.length > 0) {
        const deleteFirst = r.options.deleteBeforeReplace === true || (row?.deletesFirst(r.inputs) ?? false);
        impact = deleteFirst ? "replaced delete-first" : "replaced create-first";
      }
      return { type: r.type, name: r.name, impact, changed, replacing, loses: row?.loses };
    });
  const one = (r: RecordedResource, impact: ChangeImpact): ChildImpact => ({
    type: r.type,
    name: r.name,
    impact,
    changed: [],
    replacing: [],
    loses: REPLACEMENT_MODEL[r.type]?.loses,
  });
  const deleted = before.filter((r) => r.custom && !later.has(key(r))).map((r) => one(r, "deleted"));
  const created = after.filter((r) => r.custom && !earlier.has(key(r))).map((r) => one(r, "created"));
  return [...matched, ...deleted, ...created];
}

/** Whether the change loses what a child holds: a data holder replaced or deleted. */
export function losesData(impact: ChildImpact): boolean {
  return (
    impact.loses !== undefined &&
    (impact.impact === "replaced create-first" ||
      impact.impact === "replaced delete-first" ||
      impact.impact === "deleted")
  );
}
