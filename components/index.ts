/**
 * The public API of queue-patterns: the components and the building blocks they stand on.
 */
export { type Artifact, type ArtifactSpec, buildArtifact, ClosurePackagingError, type RuntimeEntry } from "./artifact";
export { BUILT_IN_ROLES, type BuiltInRole, grantRole, type RoleGrant } from "./azure-roles";
export {
  DedupForwardingQueue,
  type DedupForwardingQueueArgs,
  type DedupForwardingQueueSettings,
  dedupForwardingQueueSettings,
  type ProcessCallback,
  type ProcessingMessageInfo,
  type ProcessingRun,
  type ProcessingScheduleConfig,
  type ProducerPrincipal,
  validateDedupForwardingQueueArgs,
} from "./dedup-forwarding-queue";
export { FlexDeployment, type FlexDeploymentArgs } from "./flex-deployment";
export { FunctionApp, type FunctionAppArgs, validateFunctionAppArgs } from "./function-app";
export {
  type AwsSdkSource,
  LambdaFunction,
  type LambdaFunctionArgs,
  type LambdaNodeRuntime,
  validateLambdaFunctionArgs,
} from "./lambda-function";
export type { Transform } from "./transform";
export { type ArgumentProblem, InvalidArgumentsError } from "./validation";
