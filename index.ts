/**
 * The dev stack: builds the components whose config section is enabled and exports their outputs.
 * Each component has a section `queue-patterns:<section>` in Pulumi.<stack>.yaml with `enabled`
 * and its settings; besides the sections the stack reads only the keys in `STACK_SETTINGS`. Any other
 * `queue-patterns:` key is an error, so a typo never deploys nothing.
 */
import * as aws from "@pulumi/aws";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import {
  DedupForwardingQueue,
  FanOutIngest,
  FifoIngester,
  PersistentEniAsg,
  type ProducerPrincipal,
  ScheduledNotifier,
} from "./components";
import { RateLimitedError } from "./runtime/scheduled-notifier/errors";

/** A component's config section. */
interface ComponentSection {
  enabled?: boolean;
  [setting: string]: unknown;
}

/** Builds one component from its section and returns the outputs the stack exports for it. */
type ComponentBuilder = (name: string, section: ComponentSection) => Record<string, pulumi.Input<unknown>>;

const PROJECT = "queue-patterns";

/** The stack's config keys that are not component sections, with what they hold. */
const STACK_SETTINGS = {
  scheduledNotifierApiToken:
    "the messaging API token ScheduledNotifier stores in Secrets Manager (set it with --secret)",
} as const;

/** The section's resource group, or a new one named after the section. */
function resourceGroupOf(name: string, section: ComponentSection): pulumi.Input<string> {
  return (section.resourceGroupName as string | undefined) ?? new resources.ResourceGroup(`${name}-rg`).name;
}

/** The components the stack knows, by config section, with the dev stack's demonstration callbacks. */
const builders: Record<string, ComponentBuilder> = {
  fanOutIngest(name, section) {
    const setting = <T>(key: string) => section[key] as T | undefined;
    const ingest = new FanOutIngest<string>(name, {
      resourceGroupName: setting<string>("resourceGroupName"),
      // A paginated id API named in appSettings, answering { ids: string[], next: string | null } per page.
      source: async function* ({ parameters }) {
        const since = parameters.since ? `&since=${encodeURIComponent(parameters.since)}` : "";
        let page: string | null = `${process.env.API_URL}/ids?limit=1000${since}`;
        while (page) {
          const response: Response = await fetch(page);
          if (!response.ok) throw new Error(`GET ${page}: ${response.status}`);
          const body = (await response.json()) as { ids: string[]; next: string | null };
          yield* body.ids;
          page = body.next;
        }
      },
      toMessage: (id) => JSON.stringify({ id }),
      appSettings: { API_URL: setting<string>("apiUrl") ?? "https://api.example.com" },
      chunkSize: setting<number>("chunkSize"),
      queueCount: setting<number>("queueCount"),
      messageEncoding: setting<"base64" | "none">("messageEncoding"),
      schedule: setting<string>("schedule"),
      maximumInstanceCount: setting<number>("maximumInstanceCount"),
    });
    return {
      runUrl: ingest.runUrl,
      queueServiceUri: ingest.queueServiceUri,
      queueNames: ingest.queueNames,
      poisonQueueNames: ingest.poisonQueueNames,
      storageAccountName: ingest.storageAccountName,
      functionAppName: ingest.functionAppName,
    };
  },

  fifoIngester(name, section) {
    const ingester = new FifoIngester<{ id: string }>(name, {
      handler: async (listing, meta) => {
        console.log(
          JSON.stringify({
            message: "ingested",
            id: listing.id,
            groupId: meta.groupId,
            sequenceNumber: meta.sequenceNumber,
          }),
        );
      },
      batchSize: section.batchSize as number | undefined,
      maxConcurrency: section.maxConcurrency as number | undefined,
      maxReceiveCount: section.maxReceiveCount as number | undefined,
      timeoutSeconds: section.timeoutSeconds as number | undefined,
      alarmActionArn: section.alarmActionArn as string | undefined,
      topicArn: section.topicArn as string | undefined,
    });
    return {
      topicArn: ingester.topicArn,
      queueUrl: ingester.queueUrl,
      deadLetterQueueUrl: ingester.deadLetterQueueUrl,
      functionName: ingester.functionName,
    };
  },

  persistentEniAsg(name, section) {
    const setting = <T>(key: string) => section[key] as T | undefined;
    const existingNetworkInterfaceId = setting<string>("existingNetworkInterfaceId");
    const asg = new PersistentEniAsg(name, {
      networkInterface: existingNetworkInterfaceId
        ? { existingNetworkInterfaceId }
        : {
            subnetId: setting<string>("subnetId") ?? "",
            privateIp: setting<string>("privateIp") ?? "",
            securityGroupIds: setting<string[]>("securityGroupIds") ?? [],
            subnetCidrBlock: setting<string>("subnetCidrBlock"),
          },
      imageId:
        setting<string>("imageId") ??
        aws.ssm.getParameterOutput({ name: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64" })
          .value,
      instanceType: setting<string>("instanceType") ?? "t4g.small",
      targetGroupArns: setting<string[]>("targetGroupArns") ?? [],
      instanceProfileArn: setting<string>("instanceProfileArn"),
      detachOnTerminate: setting<boolean>("detachOnTerminate") ?? true,
      afterAttach: async ({ instanceId, networkInterfaceId, privateIp }) => {
        console.log(JSON.stringify({ message: "persistent IP attached", instanceId, networkInterfaceId, privateIp }));
      },
    });
    return {
      networkInterfaceId: asg.networkInterfaceId,
      privateIp: asg.privateIp,
      autoScalingGroupName: asg.autoScalingGroupName,
      attacherFunctionName: asg.attacherFunctionName,
      failureQueueUrl: asg.failureQueueUrl,
    };
  },

  scheduledNotifier(name, section) {
    const apiTokenSecretArn = section.apiTokenSecretArn as string | undefined;
    const notifier = new ScheduledNotifier(name, {
      schedule: section.schedule as string,
      timezone: section.timezone as string | undefined,
      enabled: section.scheduleEnabled as boolean | undefined,
      maxConcurrency: section.maxConcurrency as number | undefined,
      settings: section.settings as Record<string, string> | undefined,
      apiTokenSecretArn,
      apiToken: apiTokenSecretArn
        ? undefined
        : new pulumi.Config(PROJECT).requireSecret("scheduledNotifierApiToken" satisfies keyof typeof STACK_SETTINGS),
      // A paged recipient directory and a bearer-token messaging API, both named in `settings`.
      recipients: async function* (run) {
        let page: string | null = `${process.env.DIRECTORY_URL}/recipients?run=${encodeURIComponent(run.id)}`;
        while (page) {
          const response: Response = await fetch(page);
          if (!response.ok) throw new Error(`GET ${page}: ${response.status}`);
          const body = (await response.json()) as { recipients: { id: string }[]; next: string | null };
          yield* body.recipients;
          page = body.next;
        }
      },
      send: async (recipient, { secret, idempotencyKey }) => {
        const response = await fetch(`${process.env.MESSAGING_API_URL}/messages`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${secret}`,
            "content-type": "application/json",
            "idempotency-key": idempotencyKey,
          },
          body: JSON.stringify({ to: recipient.id }),
        });
        if (response.status === 429) throw new RateLimitedError(Number(response.headers.get("retry-after") ?? "30"));
        if (!response.ok) throw new Error(`the messaging API answered ${response.status}: ${await response.text()}`);
      },
    });
    return {
      scheduleArn: notifier.scheduleArn,
      jobsQueueUrl: notifier.jobsQueueUrl,
      deadLetterQueueUrl: notifier.deadLetterQueueUrl,
      failedRunsQueueUrl: notifier.failedRunsQueueUrl,
      ledgerBucketName: notifier.ledgerBucketName,
    };
  },

  dedupForwardingQueue(name, section) {
    const queue = new DedupForwardingQueue(name, {
      resourceGroupName: resourceGroupOf(name, section),
      windows: (section.windows as Record<string, string> | undefined) ?? { daily: "1 day", twoHourly: "2 hours" },
      timeZone: section.timeZone as string | undefined,
      scheduleDelay: section.scheduleDelay as string | undefined,
      producerPrincipalIds: section.producerPrincipalIds as Record<string, ProducerPrincipal> | undefined,
      process: async ({ dataSetId, period, window, periodStart, periodEnd, message }) => {
        console.log(
          JSON.stringify({
            event: "processing-run",
            dataSetId,
            period,
            window,
            periodStart,
            periodEnd,
            deliveryCount: message.deliveryCount,
          }),
        );
      },
    });
    return {
      fullyQualifiedNamespace: queue.fullyQualifiedNamespace,
      workQueueName: queue.workQueueName,
      processingQueueNames: queue.processingQueueNames,
      producerConfig: queue.producerConfig,
      functionAppName: queue.functionApp.name,
    };
  },
};

function keysInConfig(): string[] {
  return Object.keys(pulumi.runtime.allConfig())
    .filter((key) => key.startsWith(`${PROJECT}:`))
    .map((key) => key.slice(PROJECT.length + 1));
}

function buildEnabledComponents(): Record<string, Record<string, pulumi.Input<unknown>>> {
  const config = new pulumi.Config(PROJECT);
  const unknown = keysInConfig().filter((key) => !(key in builders) && !(key in STACK_SETTINGS));
  if (unknown.length > 0) {
    throw new Error(
      `config ${unknown.map((key) => `${PROJECT}:${key}`).join(", ")} names no component or setting of this stack; ` +
        `component sections: ${Object.keys(builders).join(", ")}; other settings: ` +
        Object.entries(STACK_SETTINGS)
          .map(([key, meaning]) => `${key} (${meaning})`)
          .join(", ") +
        ".",
    );
  }
  const outputs: Record<string, Record<string, pulumi.Input<unknown>>> = {};
  for (const [section, build] of Object.entries(builders)) {
    const settings = config.getObject<ComponentSection>(section);
    if (settings?.enabled) outputs[section] = build(section, settings);
  }
  return outputs;
}

export = buildEnabledComponents();
