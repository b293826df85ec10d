/**
 * Pulumi mocks that record every resource's inputs. `call` throws for any function that is not
 * mocked, so a component that starts invoking something new fails loudly instead of getting `{}`.
 * Call `installMocks()` before importing any component module.
 */
import * as pulumi from "@pulumi/pulumi";

import { AWS_PUBLIC_PARAMETER_CALLS, AZURE_CLIENT_CALLS, type CallAnswer } from "./provider-calls";
import { MOCK_ACCOUNT, MOCK_REGION, MOCK_SUBSCRIPTION, providerState } from "./provider-state";

export { MOCK_ACCOUNT, MOCK_REGION, MOCK_SUBSCRIPTION } from "./provider-state";

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

export type CallMock = CallAnswer;

/** What EC2 reports of an ENI that exists, besides the id and ARN the lookup derives from the id. */
export interface ExistingEniFields {
  subnetId: string;
  privateIp: string;
  description: string;
  securityGroups: string[];
  availabilityZone: string;
}

/** `aws.ec2.getNetworkInterface`, answered as EC2 does for any id: that ENI, with `fields`. */
export function existingEniLookup(fields: ExistingEniFields): Record<string, CallMock> {
  return {
    "aws:ec2/getNetworkInterface:getNetworkInterface": (inputs) => ({
      id: inputs.id,
      arn: `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:network-interface/${inputs.id}`,
      ...fields,
    }),
  };
}

/**
 * `servicebus.getNamespace` answering for an existing Standard namespace, with the id and endpoint
 * ARM reports (https://learn.microsoft.com/rest/api/servicebus/controlplane-stable/namespaces/get).
 */
export const EXISTING_NAMESPACE_LOOKUP: Record<string, CallMock> = {
  "azure-native:servicebus:getNamespace": (inputs) => ({
    name: inputs.namespaceName,
    id: `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/${inputs.resourceGroupName}/providers/Microsoft.ServiceBus/namespaces/${inputs.namespaceName}`,
    sku: { name: "Standard" },
    serviceBusEndpoint: `https://${inputs.namespaceName}.servicebus.windows.net:443/`,
  }),
};

/** A component of this library the program constructed: its type token, name and the object itself. */
export interface RecordedComponent {
  /** e.g. `queue-patterns:aws:FifoIngester` */
  type: string;
  name: string;
  resource: pulumi.Resource;
}

export class ResourceRecorder {
  readonly resources: RecordedResource[] = [];
  /** Every queue-patterns component (and building block) registered while this recorder was installed. */
  readonly components: RecordedComponent[] = [];
  readonly calls: { token: string; inputs: Record<string, any> }[] = [];
  /**
   * The messages of every registration the provider refused (a name its service rejects, an
   * auto-name longer than the provider allows). The engine reports them as failed steps, which an
   * un-awaited output would hide, so tests read them here.
   */
  readonly rejected: string[] = [];

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

/** The project and stack a program runs in: `pulumi.getProject()` and `pulumi.getStack()`. */
export interface StackScope {
  project: string;
  stack: string;
  /**
   * The resources of the previous run of the program, standing for the state: an input named in a
   * resource's `ignoreChanges` keeps its value from there, as the engine does
   * (pkg/resource/deploy/step_generator.go, `processIgnoreChanges`).
   */
  prior?: ResourceRecorder;
}

/** Where registrations are recorded once the SDK's registration function is wrapped (once per process). */
interface Registrations {
  parents: Map<string, string>;
  options: Map<string, pulumi.CustomResourceOptions>;
  /** The recorder of the latest `installMocks`, which receives the component objects. */
  current?: ResourceRecorder;
}
let registrations: Registrations | undefined;

/**
 * Installs recording mocks. `calls` maps function tokens to results; any other call throws.
 * Parents are recorded through a stack transformation, which sees each resource's options. Called
 * again with another `scope`, the program that follows runs as that project and stack (a renamed
 * stack or project) and records into a new recorder.
 */
export function installMocks(
  calls: Record<string, CallMock> = {},
  scope: StackScope = { project: "queue-patterns", stack: "test" },
): ResourceRecorder {
  const recorder = new ResourceRecorder();
  if (!registrations) {
    const created: Registrations = { parents: new Map(), options: new Map() };
    recordRegistrations(created.parents, created.options, (component) => created.current?.components.push(component));
    registrations = created;
  }
  registrations.current = recorder;
  const { parents, options } = registrations;
  pulumi.runtime.setMocks(
    providerMocks(recorder, calls, parents, options, scope.prior),
    scope.project,
    scope.stack,
    false,
  );
  return recorder;
}

/**
 * Mocks that answer as the providers do (ids and ARNs in their documented formats, see
 * provider-state.ts) and record each registration and call into `recorder`. `parents` maps
 * `type::name` to the parent's name where the caller can see parents, `options` to the resource
 * options it was registered with.
 */
export function providerMocks(
  recorder: ResourceRecorder,
  calls: Record<string, CallMock> = {},
  parents = new Map<string, string>(),
  options = new Map<string, pulumi.CustomResourceOptions>(),
  prior?: ResourceRecorder,
): pulumi.runtime.Mocks {
  const mockedCalls = { ...AZURE_CLIENT_CALLS, ...AWS_PUBLIC_PARAMETER_CALLS, ...calls };
  return {
    newResource(args) {
      const registered = options.get(`${args.type}::${args.name}`) ?? {};
      const old = prior?.resources.find((r) => r.type === args.type && r.name === args.name);
      if (old) {
        for (const key of registered.ignoreChanges ?? []) {
          if (key in old.inputs) args = { ...args, inputs: { ...args.inputs, [key]: old.inputs[key] } };
        }
      }
      let answer: ReturnType<typeof providerState>;
      try {
        answer = providerState(args.type, args.name, args.inputs);
      } catch (error) {
        recorder.rejected.push((error as Error).message);
        throw error;
      }
      const { id, state } = answer;
      recorder.resources.push({
        type: args.type,
        name: args.name,
        inputs: args.inputs,
        parent: parents.get(`${args.type}::${args.name}`),
        options: registered,
        custom: args.custom ?? true,
        id,
        state,
      });
      return { id, state };
    },
    call(args) {
      recorder.calls.push({ token: args.token, inputs: args.inputs });
      const mock = mockedCalls[args.token];
      if (!mock) throw new Error(`unmocked call ${args.token}(${JSON.stringify(args.inputs)})`);
      return mock(args.inputs);
    },
  };
}

/**
 * Records, for every resource registered from now on, `type::name` -> its parent's name and its
 * resource options, and hands each component of this library (type `queue-patterns:...`) to
 * `onComponent`, by wrapping the SDK's registration function (the mock engine is told none of it
 * in a form tests can read, and never sees the objects).
 */
function recordRegistrations(
  parents: Map<string, string>,
  options: Map<string, pulumi.CustomResourceOptions>,
  onComponent: (component: RecordedComponent) => void,
): void {
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
    // registerResource(res, parent, type, name, custom, remote, newDependency, props, opts, ...)
    options.set(`${type}::${name}`, rest[4] as pulumi.CustomResourceOptions);
    if (type.startsWith("queue-patterns:")) onComponent({ type, name, resource: res });
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
