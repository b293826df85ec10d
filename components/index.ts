/**
 * The public API of queue-patterns: the components and the building blocks they stand on.
 */
export {
  type Artifact,
  type ArtifactSpec,
  buildArtifact,
  ClosurePackagingError,
  type RuntimeEntry,
  runtimeEntry,
} from "./core/artifact";
export { type RuntimeFactory, runtimeFactory } from "./core/runtime-factory";
export { BUILT_IN_ROLES, type BuiltInRole, type AzurePermission, grantRole, type RoleGrant } from "./azure/roles";
export {
  DedupForwardingQueue,
  type DedupForwardingQueueArgs,
  type DedupForwardingQueueSettings,
  dedupForwardingQueueSettings,
  type ExistingServiceBusNamespace,
  type ProcessCallback,
  type ProcessingMessageInfo,
  type ProcessingRun,
  type ProcessingScheduleConfig,
  type ProducerPrincipal,
  type ServiceBusNamespaceSettings,
  validateDedupForwardingQueueArgs,
} from "./dedup-forwarding-queue";
export type {
  NotificationRun,
  Recipient,
  RecipientsCallback,
  SendCallback,
  SendContext,
} from "../runtime/scheduled-notifier/contract";
export {
  chunkCreatedFilter,
  FanOutIngest,
  type FanOutFunctions,
  type FanOutIngestArgs,
  fanOutFunctions,
  type MessageEncoding,
  type RunContext,
  validateFanOutIngestArgs,
} from "./fan-out-ingest";
export {
  FifoIngester,
  type FifoIngesterArgs,
  type FifoRecordHandler,
  type FifoRecordMetadata,
  type FifoTopicSettings,
  validateFifoIngesterArgs,
} from "./fifo-ingester";
export { FlexDeployment, type FlexDeploymentArgs } from "./azure/flex-deployment";
export {
  DEFAULT_FUNCTIONS_NODE_VERSION,
  FUNCTIONS_NODE_VERSIONS,
  FunctionApp,
  type FunctionAppArgs,
  type FunctionAppSettings,
  type FunctionsNodeVersion,
  validateFunctionAppArgs,
} from "./azure/function-app";
export {
  type AwsPermission,
  type AwsSdkSource,
  LambdaFunction,
  type LambdaFunctionArgs,
  type LambdaNodeRuntime,
  type LambdaFunctionSettings,
  validateLambdaFunctionArgs,
} from "./aws/lambda-function";
export {
  type AfterAttach,
  type AfterAttachInput,
  type NewPersistentEni,
  PersistentEniAsg,
  type PersistentEniAsgArgs,
  persistentIpUserData,
  validatePersistentEniAsgArgs,
} from "./persistent-eni-asg";
export {
  ScheduledNotifier,
  type ScheduledNotifierArgs,
  type ScheduledNotifierRetry,
  validateScheduledNotifierArgs,
} from "./scheduled-notifier";
export type { Transform } from "./core/transform";
export { scheduleExpressionProblem } from "./aws/schedule-expression";
export { isIanaTimeZone } from "../runtime/shared/time-zone";
export { type ArgumentProblem, InvalidArgumentsError } from "./core/validation";
