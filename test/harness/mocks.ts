/**
 * Pulumi mocks that record every resource's inputs. `call` throws for any function that is not
 * mocked, so a component that starts invoking something new fails loudly instead of getting `{}`.
 * Call `installMocks()` before importing any component module.
 */
import * as pulumi from "@pulumi/pulumi";

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "us-east-1";
export const MOCK_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";

/** One `newResource` call, as the engine would have seen it. */
export interface RecordedResource {
  type: string;
  name: string;
  /** The resolved inputs the component passed. */
  inputs: Record<string, any>;
  /** The logical name of the parent resource, if any. */
  parent?: string;
  custom: boolean;
  id: string;
  /** The state the mock returned (inputs plus computed ids, ARNs and names). */
  state: Record<string, any>;
  /** The resource options it was registered with (replaceOnChanges, deleteBeforeReplace, ...). */
  options: pulumi.CustomResourceOptions;
}

export type CallMock = (inputs: Record<string, any>) => Record<string, any>;

/** The Azure client functions every Azure component invokes (role ids, deployment token). */
const AZURE_CLIENT_CALLS: Record<string, CallMock> = {
  "azure-native:authorization:getClientConfig": () => ({
    subscriptionId: MOCK_SUBSCRIPTION,
    tenantId: "tenant",
    clientId: "client",
    objectId: "deployer-object-id",
  }),
  "azure-native:authorization:getClientToken": () => ({ token: "mock-token" }),
};

export class ResourceRecorder {
  readonly resources: RecordedResource[] = [];
  readonly calls: { token: string; inputs: Record<string, any> }[] = [];

  /** Every recorded resource of a type token, e.g. `aws:sqs/queue:Queue`. */
  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** The one resource of `type` whose logical name is `name` (or ends with `-suffix` when given that way). */
  named(type: string, name: string): RecordedResource {
    const matches = this.ofType(type).filter((r) => r.name === name);
    if (matches.length !== 1) {
      const seen = this.ofType(type).map((r) => r.name);
      throw new Error(`expected one ${type} named ${name}; recorded: ${JSON.stringify(seen)}`);
    }
    return matches[0];
  }

  /** The one resource of `type`; fails when there are none or several. */
  only(type: string): RecordedResource {
    const matches = this.ofType(type);
    if (matches.length !== 1) throw new Error(`expected exactly one ${type}, recorded ${matches.length}`);
    return matches[0];
  }

  /**
   * Waits until every resource registration has finished, including those still waiting for
   * their inputs (an artifact being bundled), by draining the SDK's own queue of pending RPCs.
   */
  async settle(): Promise<void> {
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    await settings.waitForRPCs();
  }
}

/** Computed state a real provider would return, so ARNs and URLs look like the real thing. */
function computedState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  const [pkg, module] = type.split(":");
  if (pkg === "aws") {
    const service = module.split("/")[0];
    const physical = inputs.name ?? `${name}-${shortHash(name)}`;
    const arns: Record<string, string> = {
      sqs: `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}`,
      sns: `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}`,
      lambda: `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${physical}`,
      cloudwatch: `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${physical}`,
      iam: `arn:aws:iam::${MOCK_ACCOUNT}:role/${physical}`,
      secretsmanager: `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:${physical}-AbCdEf`,
      autoscaling: `arn:aws:autoscaling:${MOCK_REGION}:${MOCK_ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/${physical}`,
    };
    const state: Record<string, any> = {
      name: physical,
      arn: arns[service] ?? `arn:aws:${service}:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}`,
    };
    if (service === "sqs") state.url = `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${physical}`;
    return state;
  }
  if (pkg === "azure-native") {
    const physical = inputs[AZURE_NAME_INPUTS[type] ?? "name"] ?? name;
    const resourceId = (armType: string, resourceName: string) =>
      `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/rg/providers/${armType}/${resourceName}`;
    const storageAccountId = resourceId(STORAGE_ACCOUNT_ARM_TYPE, inputs.accountName);
    const state: Record<string, any> = {
      name: physical,
      id: resourceId(type === "azure-native:storage:StorageAccount" ? STORAGE_ACCOUNT_ARM_TYPE : module, physical),
    };
    // Azure nests queues and containers under their account's services; role scopes use these ids.
    if (type === "azure-native:storage:Queue")
      state.id = `${storageAccountId}/queueServices/default/queues/${physical}`;
    if (type === "azure-native:storage:BlobContainer") {
      state.id = `${storageAccountId}/blobServices/default/containers/${physical}`;
    }
    if (type === "azure-native:web:WebApp" || inputs.identity?.type === "SystemAssigned") {
      state.identity = { type: "SystemAssigned", principalId: `${physical}-principal`, tenantId: "tenant" };
    }
    if (type === "azure-native:web:WebApp") {
      state.defaultHostName = `${physical}.azurewebsites.net`;
      state.hostNameSslStates = [
        { name: `${physical}.azurewebsites.net`, hostType: "Standard" },
        { name: `${physical}.scm.azurewebsites.net`, hostType: "Repository" },
      ];
    }
    if (type === "azure-native:storage:StorageAccount") {
      state.primaryEndpoints = {
        blob: `https://${physical}.blob.core.windows.net/`,
        queue: `https://${physical}.queue.core.windows.net/`,
      };
    }
    if (type === "azure-native:servicebus:Namespace") {
      state.serviceBusEndpoint = `https://${physical}.servicebus.windows.net:443/`;
    }
    if (type === "azure-native:applicationinsights:Component") {
      state.connectionString = `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://example.in.applicationinsights.azure.com/`;
    }
    return state;
  }
  return {};
}

const STORAGE_ACCOUNT_ARM_TYPE = "Microsoft.Storage/storageAccounts";

/** The input that carries an azure-native resource's own name, where it is not `name`. */
const AZURE_NAME_INPUTS: Record<string, string> = {
  "azure-native:storage:StorageAccount": "accountName",
  "azure-native:storage:BlobContainer": "containerName",
  "azure-native:storage:Queue": "queueName",
  "azure-native:servicebus:Namespace": "namespaceName",
  "azure-native:servicebus:Queue": "queueName",
  "azure-native:eventgrid:SystemTopic": "systemTopicName",
  "azure-native:resources:ResourceGroup": "resourceGroupName",
};

function shortHash(text: string): string {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash.toString(16).padStart(7, "0").slice(0, 7);
}

/**
 * Installs recording mocks. `calls` maps function tokens to results; any other call throws.
 * Parents are recorded through a stack transformation, which sees each resource's options.
 */
export function installMocks(calls: Record<string, CallMock> = {}): ResourceRecorder {
  calls = { ...AZURE_CLIENT_CALLS, ...calls };
  const recorder = new ResourceRecorder();
  const parents = new Map<string, string>();
  const options = new Map<string, pulumi.CustomResourceOptions>();
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state = { ...args.inputs, ...computedState(args.type, args.name, args.inputs) };
        const id = state.id ?? `${args.name}-id`;
        recorder.resources.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          parent: parents.get(`${args.type}::${args.name}`),
          options: options.get(`${args.type}::${args.name}`) ?? {},
          custom: args.custom ?? true,
          id,
          state,
        });
        return { id, state };
      },
      call(args) {
        recorder.calls.push({ token: args.token, inputs: args.inputs });
        const mock = calls[args.token];
        if (!mock) throw new Error(`unmocked call ${args.token}(${JSON.stringify(args.inputs)})`);
        return mock(args.inputs);
      },
    },
    "queue-patterns",
    "test",
    false,
  );
  recordParents(parents);
  recordOptions(options);
  return recorder;
}

/**
 * Records `type::name` -> parent name for every resource registered from now on, by wrapping the
 * SDK's registration function (the mock engine is not told parents in a form tests can read).
 */
function recordParents(parents: Map<string, string>): void {
  const names = new WeakMap<pulumi.Resource, string>();
  const resourceModule = require("@pulumi/pulumi/runtime/resource") as {
    registerResource: (
      res: pulumi.Resource,
      parent: pulumi.Resource | undefined,
      type: string,
      name: string,
      ...rest: unknown[]
    ) => unknown;
  };
  const original = resourceModule.registerResource;
  resourceModule.registerResource = (res, parent, type, name, ...rest) => {
    names.set(res, name);
    const parentName = parent && names.get(parent);
    if (parentName) parents.set(`${type}::${name}`, parentName);
    return original(res, parent, type, name, ...rest);
  };
}

/** Records `type::name` -> resource options for every resource registered from now on, as recordParents does parents. */
function recordOptions(options: Map<string, pulumi.CustomResourceOptions>): void {
  const resourceModule = require("@pulumi/pulumi/runtime/resource") as {
    registerResource: (res: unknown, parent: unknown, type: string, name: string, ...rest: unknown[]) => unknown;
  };
  const original = resourceModule.registerResource;
  resourceModule.registerResource = (res, parent, type, name, ...rest) => {
    // registerResource(res, parent, type, name, custom, remote, newDependency, props, opts, ...)
    options.set(`${type}::${name}`, rest[4] as pulumi.CustomResourceOptions);
    return original(res, parent, type, name, ...rest);
  };
}

/** Resolves an Output (or plain value) to its value; tests await this before asserting. */
export function resolve<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const out = pulumi.output(output) as pulumi.Output<T>;
    (out as any).promise().then(resolvePromise, reject);
  });
}
