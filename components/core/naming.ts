/**
 * Physical names. Two kinds live here:
 *
 * - Names this library derives itself for resources whose names Azure requires to be globally
 *   unique and restricted in shape (storage accounts, the Service Bus namespace): deterministic from
 *   the project, stack and logical name, so two instances or two stacks never collide. A stack or
 *   project rename changes them, so every resource named this way ignores later changes of its name
 *   (`stableNameOptions`): the name recorded in the state wins and nothing is replaced.
 * - The rules each service sets for the names a component derives from its own `name` (the
 *   provider's auto-naming adds a random suffix), so a component refuses at construction a name that
 *   the provider would refuse halfway through `pulumi up`.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { ArgumentChecker } from "./validation";

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

/**
 * Resource options for a resource whose name comes from `uniqueSuffix`: the engine keeps the name
 * recorded in the state when the program computes another one (after `pulumi stack rename` or a
 * project rename), instead of replacing the resource, which azure-native does delete-first for an
 * explicitly named resource. `property` is the input that carries the name.
 */
export function stableNameOptions(property: string): pulumi.CustomResourceOptions {
  return { ignoreChanges: [property] };
}

/** What a service allows in a physical name, and what the provider adds to the name it is given. */
export interface PhysicalNameRule {
  /** The names the rule is about, as a message says them: `Lambda function names`. */
  readonly names: string;
  /** The longest physical name the service accepts, suffixes included. */
  readonly maxLength: number;
  /** What the provider adds after the name it derives from the logical name, as a message says it. */
  readonly suffix: { readonly length: number; readonly text: string };
  /** One character of the name as it reaches the service (after `lowercased`, when set). */
  readonly character: RegExp;
  /** The characters allowed, as a message says them: `letters, digits, hyphens and underscores`. */
  readonly characters: string;
  /** The name is lowercased on its way (pulumi-aws does for S3 buckets, FunctionApp for its container). */
  readonly lowercased?: boolean;
  /** The name must start with a character this matches. */
  readonly first?: RegExp;
  /** What `first` allows, as a message says it. */
  readonly firstText?: string;
  /** A sequence the name must not contain (`--` in a blob container name), and how a message says it. */
  readonly forbidden?: { readonly sequence: string; readonly text: string };
}

/**
 * pulumi-aws auto-names a resource `<logical name>-<7 random hex>` (pulumi/pulumi-aws
 * provider/resources.go: tfbridge.AutoName / AutoNameWithCustomOptions with Separator "-" and
 * Randlen 7, through pulumi/pulumi resource.NewUniqueHex), an 8-character suffix; FIFO queues and
 * topics then get `.fifo` from their PostTransform.
 */
const PULUMI_AWS_SUFFIX = { length: 8, text: "Pulumi's 8-character suffix" };
const PULUMI_AWS_FIFO_SUFFIX = { length: 13, text: 'Pulumi\'s 8-character suffix and ".fifo"' };
/**
 * azure-native auto-names a top-level resource `<logical name><8 random hex>`, no separator
 * (`AutoNameRandom`), and a child resource (a blob container, an event subscription) after its
 * logical name alone (`AutoNameCopy`): `getDefaultName` in pulumi/pulumi-azure-native
 * provider/pkg/provider/provider.go.
 */
const AZURE_NATIVE_SUFFIX = { length: 8, text: "azure-native's 8-character suffix" };
const NONE = { length: 0, text: "no suffix" };
const LETTERS_DIGITS_HYPHENS = "letters, digits and hyphens";
const ALPHANUMERIC_FIRST = /^[A-Za-z0-9]/;

/**
 * The rules of the services the components name, each from the service's own reference:
 * AWS API references (CreateFunction FunctionName, CreateRole RoleName, CreateQueue QueueName,
 * CreateTopic Name, S3 "Bucket naming rules", CreateSchedule Name, PutRule Name,
 * CreateLaunchTemplate LaunchTemplateName, PutLifecycleHook LifecycleHookName) and
 * https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules.
 */
export const NAME_RULES = {
  lambdaFunction: {
    names: "Lambda function names",
    maxLength: 64,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[A-Za-z0-9_-]/,
    characters: "letters, digits, hyphens and underscores",
  },
  iamRole: {
    names: "IAM role names",
    maxLength: 64,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[\w+=,.@-]/,
    characters: "letters, digits and +=,.@-_",
  },
  sqsQueue: {
    names: "SQS queue names",
    maxLength: 80,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[A-Za-z0-9_-]/,
    characters: "letters, digits, hyphens and underscores",
  },
  sqsFifoQueue: {
    names: "SQS FIFO queue names",
    maxLength: 80,
    suffix: PULUMI_AWS_FIFO_SUFFIX,
    character: /[A-Za-z0-9_-]/,
    characters: "letters, digits, hyphens and underscores",
  },
  // SNS itself allows 256 characters, but pulumi-aws's auto-name for a topic
  // (AutoNameWithCustomOptions, Maxlen 80) refuses more than 80 before it appends ".fifo".
  snsFifoTopic: {
    names: 'SNS topic names as pulumi-aws auto-names them (before ".fifo")',
    maxLength: 80,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[A-Za-z0-9_-]/,
    characters: "letters, digits, hyphens and underscores",
  },
  s3Bucket: {
    names: "S3 bucket names",
    maxLength: 63,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[a-z0-9.-]/,
    characters: "letters (Pulumi lowercases them), digits, dots and hyphens",
    lowercased: true,
    first: ALPHANUMERIC_FIRST,
    firstText: "a letter or digit",
  },
  schedule: {
    names: "EventBridge Scheduler schedule names",
    maxLength: 64,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[A-Za-z0-9._-]/,
    characters: "letters, digits, dots, hyphens and underscores",
  },
  eventRule: {
    names: "EventBridge rule names",
    maxLength: 64,
    suffix: PULUMI_AWS_SUFFIX,
    character: /[A-Za-z0-9._-]/,
    characters: "letters, digits, dots, hyphens and underscores",
  },
  lifecycleHook: {
    names: "Auto Scaling lifecycle hook names",
    maxLength: 255,
    suffix: NONE,
    character: /[A-Za-z0-9/_-]/,
    characters: "letters, digits, slashes, hyphens and underscores",
  },
  blobContainer: {
    names: "Blob container names",
    maxLength: 63,
    suffix: NONE,
    character: /[a-z0-9-]/,
    characters: "letters (lowercased), digits and single hyphens",
    lowercased: true,
    first: ALPHANUMERIC_FIRST,
    firstText: "a letter or digit",
    forbidden: { sequence: "--", text: "two hyphens in a row" },
  },
  webSite: {
    names: "Function App (site) names",
    maxLength: 60,
    suffix: AZURE_NATIVE_SUFFIX,
    character: /[A-Za-z0-9-]/,
    characters: LETTERS_DIGITS_HYPHENS,
    first: ALPHANUMERIC_FIRST,
    firstText: "a letter or digit",
  },
  appServicePlan: {
    names: "App Service plan names",
    maxLength: 60,
    suffix: AZURE_NATIVE_SUFFIX,
    character: /[A-Za-z0-9-]/,
    characters: LETTERS_DIGITS_HYPHENS,
  },
  logAnalyticsWorkspace: {
    names: "Log Analytics workspace names",
    maxLength: 63,
    suffix: AZURE_NATIVE_SUFFIX,
    character: /[A-Za-z0-9-]/,
    characters: LETTERS_DIGITS_HYPHENS,
    first: ALPHANUMERIC_FIRST,
    firstText: "a letter or digit",
  },
  eventSubscription: {
    names: "Event Grid event subscription names",
    maxLength: 64,
    suffix: NONE,
    character: /[A-Za-z0-9-]/,
    characters: LETTERS_DIGITS_HYPHENS,
  },
  systemTopic: {
    names: "Event Grid system topic names",
    maxLength: 128,
    suffix: AZURE_NATIVE_SUFFIX,
    character: /[A-Za-z0-9-]/,
    characters: LETTERS_DIGITS_HYPHENS,
  },
  resourceGroup: {
    names: "resource group names",
    maxLength: 90,
    suffix: AZURE_NATIVE_SUFFIX,
    character: /[\w().-]/,
    characters: "letters, digits, underscores, parentheses, hyphens and dots",
  },
} as const satisfies Record<string, PhysicalNameRule>;

/** A physical name a component derives from its own name: `<name>-consumer-function`, by `rule`. */
export interface DerivedName {
  /** The pattern, with `<name>` standing for the component's name. */
  readonly pattern: string;
  readonly rule: PhysicalNameRule;
}

/** `{ pattern, rule }`, the way building blocks list what they derive from their own name. */
export function derived(pattern: string, rule: PhysicalNameRule): DerivedName {
  return { pattern, rule };
}

/** The derived names of a building block named `<name><infix>`, for its component's list. */
export function prefixed(infix: string, names: readonly DerivedName[]): DerivedName[] {
  return names.map(({ pattern, rule }) => ({ pattern: pattern.replace("<name>", `<name>${infix}`), rule }));
}

/** How long the component's own name may be for `entry` to fit its rule. */
function allowedLength({ pattern, rule }: DerivedName): number {
  return rule.maxLength - rule.suffix.length - (pattern.length - "<name>".length);
}

/**
 * Checks a component's `name` once, against every physical name it derives from it: the shortest
 * allowance wins (its message names the child and the service's limit), then each rule's
 * characters. `component` is the type (`FifoIngester`).
 */
export function checkDerivedNames(
  checker: ArgumentChecker,
  component: string,
  name: string,
  names: readonly DerivedName[],
): void {
  if (name.length === 0) {
    checker.check(false, "name", name, "is empty; give the component a name.");
    return;
  }
  const strictest = names.reduce((a, b) => (allowedLength(b) < allowedLength(a) ? b : a));
  const limit = allowedLength(strictest);
  checker.check(
    name.length <= limit,
    "name",
    name,
    `is ${name.length} characters; ${component} derives "${strictest.pattern}" (${strictest.rule.names} allow ${strictest.rule.maxLength} characters${strictest.rule.suffix.length > 0 ? ` including ${strictest.rule.suffix.text}` : ""}), so name allows at most ${limit}.`,
  );
  for (const entry of names) {
    const seen = entry.rule.lowercased ? name.toLowerCase() : name;
    const bad = [...new Set([...seen].filter((c) => !entry.rule.character.test(c)))];
    if (bad.length > 0) {
      checker.check(
        false,
        "name",
        name,
        `contains ${bad.map((c) => JSON.stringify(c)).join(", ")}; ${component} derives "${entry.pattern}" and ${entry.rule.names} allow only ${entry.rule.characters}.`,
      );
      return;
    }
    if (entry.rule.first && entry.pattern.startsWith("<name>") && !entry.rule.first.test(seen)) {
      checker.check(
        false,
        "name",
        name,
        `starts with ${JSON.stringify(seen[0])}; ${component} derives "${entry.pattern}" and ${entry.rule.names} start with ${entry.rule.firstText}.`,
      );
      return;
    }
    const forbidden = entry.rule.forbidden;
    if (forbidden && entry.pattern.replace("<name>", seen).includes(forbidden.sequence)) {
      checker.check(
        false,
        "name",
        name,
        `makes "${entry.pattern}" contain ${forbidden.text}, which ${entry.rule.names} do not allow.`,
      );
      return;
    }
  }
}
