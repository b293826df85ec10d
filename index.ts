/**
 * The dev stack: builds the components whose config section is enabled and exports their outputs.
 * Each component has a section `queue-patterns:<section>` in Pulumi.<stack>.yaml with `enabled`
 * and its settings; a section that names no component is an error, so a typo never deploys nothing.
 */
import * as pulumi from "@pulumi/pulumi";

/** A component's config section. */
interface ComponentSection {
  enabled?: boolean;
  [setting: string]: unknown;
}

/** Builds one component from its section and returns the outputs the stack exports for it. */
type ComponentBuilder = (name: string, section: ComponentSection) => Record<string, pulumi.Input<unknown>>;

const PROJECT = "queue-patterns";

/** The components the stack knows, by config section. */
const builders: Record<string, ComponentBuilder> = {};

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
