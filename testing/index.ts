/**
 * queue-patterns/testing: run your components' actual artifacts, with your own callbacks, on your
 * machine. Construct the components under `installTestingMocks()` (the mocks answer as the cloud
 * providers do: ids, ARNs, auto-names), then hand each one to its `exercise*` function: its
 * artifact is built as `pulumi up` would build it, started in a fresh Node.js process, and driven
 * against emulators (fauxqs for SNS and SQS, Azurite for Blob and Queue Storage, local fakes for S3
 * and Secrets Manager) with your messages or sample events. Each returns what happened: what every
 * invocation was given, what it returned or threw, the dead letters with their reasons and the
 * messages sent downstream. docs/testing.md says how to use it and what it cannot show.
 */
import { installMocks, type RecordedComponent, type ResourceRecorder } from "./mocks";

export type { Invocation, NodeSelector, NodeBinary } from "./artifact-runner";
export { ArtifactProcess, nodeAt, runningNode } from "./artifact-runner";
export { type Azurite, type Fauxqs, startAzurite, startFauxqs } from "./emulators";
export { type ExerciseOptions, type InvocationRecord, type NodeUsed, valueOf } from "./exercise";
export {
  exerciseFanOutIngest,
  type FanOutIngestRun,
  type FanOutInput,
  type SubscriptionFilter,
  blobCreatedEvent,
} from "./fan-out-ingest";
export {
  exerciseFifoIngester,
  type FifoDeadLetter,
  type FifoDelivery,
  type FifoIngesterRun,
  type FifoMessage,
  SAMPLE_FIFO_MESSAGES,
} from "./fifo-ingester";
export {
  type ComponentExercise,
  type ComponentFailed,
  type ComponentNotExercised,
  exerciseProgram,
  type ProgramExercise,
  type ProgramOptions,
} from "./program";
export {
  exerciseScheduledNotifier,
  type NotifierDelivery,
  type NotifierInput,
  type ScheduledNotifierRun,
} from "./scheduled-notifier";
export type { RecordedComponent, RecordedResource } from "./mocks";

/** What `installTestingMocks` records. */
export interface TestingMocks {
  /** Every resource registered since, with its inputs and the state the mock answered. */
  resources: ResourceRecorder["resources"];
  /** Every queue-patterns component constructed since, with the object itself. */
  components: RecordedComponent[];
  /** Waits until every registration has finished (artifacts built included). */
  settle(): Promise<void>;
}

/**
 * Installs Pulumi mocks that answer as the AWS and Azure providers do (ids, ARNs and auto-names in
 * their documented formats; AWS's public AMI parameters; Azure's client config) and record every
 * resource. Call it before constructing components (before requiring your stack module); call it
 * again to start over. A lookup the mocks do not answer fails loudly: pass its answer in `calls`,
 * by function token.
 */
export function installTestingMocks(
  options: {
    /** @default "project" */
    project?: string;
    /** @default "test" */
    stack?: string;
    /** Answers for provider functions (invokes) your program calls, by token. */
    calls?: Record<string, (inputs: Record<string, any>) => Record<string, any>>;
  } = {},
): TestingMocks {
  const recorder = installMocks(options.calls, {
    project: options.project ?? "project",
    stack: options.stack ?? "test",
  });
  return {
    resources: recorder.resources,
    components: recorder.components,
    settle: () => recorder.settle(),
  };
}
