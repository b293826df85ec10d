/**
 * The dev stack: builds the components whose config section is enabled and exports their outputs.
 * Each component has a section `queue-patterns:<section>` in Pulumi.<stack>.yaml with `enabled`
 * and its settings; besides the sections the stack reads only the keys in `STACK_SETTINGS`. Any other
 * `queue-patterns:` key is an error, so a typo never deploys nothing.
 */
import * as aws from "@pulumi/aws";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import { DedupForwardingQueue, FanOutIngest, FifoIngester, PersistentEniAsg, ScheduledNotifier } from "./components";
import { RateLimitedError } from "./runtime/scheduled-notifier/errors";
import { ConfigSection } from "./stack-config";

/** Builds one component from its section and returns the outputs the stack exports for it. */
type ComponentBuilder = (name: string, section: ConfigSection) => Record<string, pulumi.Input<unknown>>;

const PROJECT = "queue-patterns";

/** The stack's config keys that are not component sections, with what they hold. */
const STACK_SETTINGS = {
  scheduledNotifierApiToken:
    "the messaging API token ScheduledNotifier stores in Secrets Manager (set it with --secret)",
} as const;

/** The section's resource group, or a new one named after the section. */
function resourceGroupOf(name: string, section: ConfigSection): pulumi.Input<string> {
  return section.string("resourceGroupName") ?? new resources.ResourceGroup(`${name}-rg`).name;
}

/** The components the stack knows, by config section, with the dev stack's demonstration callbacks. */
const builders: Record<string, ComponentBuilder> = {
  fanOutIngest(name, section) {
    const ingest = new FanOutIngest<string>(name, {
      resourceGroupName: section.string("resourceGroupName"),
      // A paginated id API named in environment, answering { ids: string[], next: string | null } per page.
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
      environment: { API_URL: section.string("apiUrl") ?? "https://api.example.com" },
      chunkSize: section.number("chunkSize"),
      queueCount: section.number("queueCount"),
      // The component names the encodings it accepts when the value is another.
      messageEncoding: section.string("messageEncoding") as "base64" | "none" | undefined,
      schedule: section.string("schedule"),
      function: { maximumInstanceCount: section.section("function")?.number("maximumInstanceCount") },
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
    const existingTopicArn = section.section("topic")?.string("existing");
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
      batchSize: section.number("batchSize"),
      maxConcurrency: section.number("maxConcurrency"),
      maxDeliveryCount: section.number("maxDeliveryCount"),
      function: { timeoutSeconds: section.section("function")?.number("timeoutSeconds") },
      alarmActions: section.strings("alarmActions"),
      // The dev stack creates its topic unless `topic.existing` names one.
      topic: existingTopicArn ? { existing: existingTopicArn } : undefined,
    });
    return {
      topicArn: ingester.topicArn,
      queueUrl: ingester.queueUrl,
      deadLetterQueueUrl: ingester.deadLetterQueueUrl,
      functionName: ingester.functionName,
    };
  },

  persistentEniAsg(name, section) {
    const eni = section.section("networkInterface");
    const existing = eni?.string("existing");
    const asg = new PersistentEniAsg(name, {
      // With `existing`, the creation keys stay unread, so the section's check rejects them.
      networkInterface: existing
        ? { existing }
        : {
            subnetId: eni?.string("subnetId") ?? "",
            privateIp: eni?.string("privateIp") ?? "",
            securityGroupIds: eni?.strings("securityGroupIds") ?? [],
            subnetCidrBlock: eni?.string("subnetCidrBlock"),
            description: eni?.string("description"),
          },
      imageId:
        section.string("imageId") ??
        aws.ssm.getParameterOutput({ name: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64" })
          .value,
      instanceType: section.string("instanceType") ?? "t4g.small",
      targetGroupArns: section.strings("targetGroupArns") ?? [],
      instanceProfileArn: section.string("instanceProfileArn"),
      detachOnTerminate: section.boolean("detachOnTerminate") ?? true,
      alarmActions: section.strings("alarmActions"),
      afterAttach: async ({ instanceId, networkInterfaceId, privateIp }) => {
        console.log(JSON.stringify({ message: "persistent IP attached", instanceId, networkInterfaceId, privateIp }));
      },
    });
    return {
      networkInterfaceId: asg.networkInterfaceId,
      privateIp: asg.privateIp,
      autoScalingGroupName: asg.autoScalingGroupName,
      functionName: asg.functionName,
      failureQueueUrl: asg.failureQueueUrl,
    };
  },

  scheduledNotifier(name, section) {
    const apiToken = section.section("apiToken");
    const existingSecretArn = apiToken?.string("existing");
    const notifier = new ScheduledNotifier(name, {
      // The component says what a schedule looks like when it is missing.
      schedule: section.string("schedule") as string,
      timeZone: section.string("timeZone"),
      scheduleEnabled: section.boolean("scheduleEnabled"),
      maxConcurrency: section.number("maxConcurrency"),
      environment: section.stringMap("environment"),
      apiToken: {
        ...(existingSecretArn
          ? { existing: existingSecretArn }
          : {
              value: new pulumi.Config(PROJECT).requireSecret(
                "scheduledNotifierApiToken" satisfies keyof typeof STACK_SETTINGS,
              ),
            }),
        kmsKeyArn: apiToken?.string("kmsKeyArn"),
      },
      // A paged recipient directory and a bearer-token messaging API, both named in `environment`.
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
      producerFunctionName: notifier.producerFunctionName,
      consumerFunctionName: notifier.consumerFunctionName,
    };
  },

  dedupForwardingQueue(name, section) {
    const queue = new DedupForwardingQueue(name, {
      resourceGroupName: resourceGroupOf(name, section),
      windows: section.numberMap("windows") ?? { daily: 86_400, twoHourly: 7_200 },
      timeZone: section.string("timeZone"),
      scheduleDelaySeconds: section.number("scheduleDelaySeconds"),
      // Object ids by producer name; a principal with its type is written in code, not config.
      producerPrincipalIds: section.stringMap("producerPrincipalIds"),
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
      functionAppName: queue.functionAppName,
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
  for (const [name, build] of Object.entries(builders)) {
    const section = new ConfigSection(`${PROJECT}:${name}`, config.getObject(name) ?? {});
    if (!section.boolean("enabled")) continue;
    outputs[name] = build(name, section);
    section.finish();
  }
  return outputs;
}

export = buildEnabledComponents();
