/**
 * The dev stack: builds the components whose config section is enabled and exports their outputs.
 * Each component has a section `queue-patterns:<section>` in Pulumi.<stack>.yaml with `enabled`
 * and its settings; a section that names no component is an error, so a typo never deploys nothing.
 */
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import { DedupForwardingQueue, type ProducerPrincipal } from "./components";

/** A component's config section. */
interface ComponentSection {
  enabled?: boolean;
  [setting: string]: unknown;
}

/** Builds one component from its section and returns the outputs the stack exports for it. */
type ComponentBuilder = (name: string, section: ComponentSection) => Record<string, pulumi.Input<unknown>>;

const PROJECT = "queue-patterns";

/** The section's resource group, or a new one named after the section. */
function resourceGroupOf(name: string, section: ComponentSection): pulumi.Input<string> {
  return (section.resourceGroupName as string | undefined) ?? new resources.ResourceGroup(`${name}-rg`).name;
}

/** The components the stack knows, by config section, with the dev stack's demonstration callbacks. */
const builders: Record<string, ComponentBuilder> = {
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

function sectionsInConfig(): string[] {
  return Object.keys(pulumi.runtime.allConfig())
    .filter((key) => key.startsWith(`${PROJECT}:`))
    .map((key) => key.slice(PROJECT.length + 1));
}

function buildEnabledComponents(): Record<string, Record<string, pulumi.Input<unknown>>> {
  const config = new pulumi.Config(PROJECT);
  const unknown = sectionsInConfig().filter((section) => !(section in builders));
  if (unknown.length > 0) {
    throw new Error(
      `config ${unknown.map((s) => `${PROJECT}:${s}`).join(", ")} names no component; ` +
        `known sections: ${Object.keys(builders).join(", ") || "(none yet)"}.`,
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
