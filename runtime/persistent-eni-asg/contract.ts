/**
 * What the PersistentEniAsg component and its attacher agree on: the environment variables, the
 * options fixed at deployment, the `afterAttach` callback's signature, and the names of the
 * lifecycle events and transitions. No SDK is imported here: the component loads this file when a
 * stack is deployed, and deploying must not load the attacher's SDKs.
 */

/** What `afterAttach` learns once the ENI is attached. */
export interface AfterAttachInput {
  instanceId: string;
  networkInterfaceId: string;
  privateIp: string;
}

/**
 * The user's callback after the attach (e.g. update DNS); throwing abandons the launch. `signal`
 * aborts at the deadline: the launch is then abandoned, so stop and change nothing after it aborts
 * (pass it to SDK calls as `abortSignal`).
 */
export type AfterAttach = (input: AfterAttachInput, signal: AbortSignal) => unknown;

/** Settings fixed at deployment (plain JSON in the artifact). */
export interface AttacherOptions {
  /** The group whose events this function handles; events of any other group are rejected. */
  autoScalingGroupName: string;
  /** Pause between two looks at an instance or ENI that is changing state. */
  pollIntervalMs: number;
  /** How long a plain detach from a holder out of service may take before it is forced. */
  forceDetachAfterMs: number;
  /** Heartbeat period while the action is open; below the hook's heartbeat timeout. */
  heartbeatIntervalMs: number;
  /** Function time kept back from the work for completing the lifecycle action. */
  completionReserveMs: number;
  /** Attempts per AWS call, including retries of throttling and transient errors. */
  maxAttempts: number;
}

/**
 * The environment variables holding what exists only once deployed: the persistent ENI's id
 * (created or adopted, so always known at deployment) and the failure queue's URL.
 */
export const PERSISTENT_ENI_ID_ENV = "PERSISTENT_ENI_ID";
export const FAILURE_QUEUE_URL_ENV = "PERSISTENT_ENI_FAILURE_QUEUE_URL";

/** The EventBridge `detail-type` of a launch lifecycle action, and the hook transition it reports. */
export const LAUNCH_DETAIL_TYPE = "EC2 Instance-launch Lifecycle Action";
export const LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING";
/** The EventBridge `detail-type` of a terminate lifecycle action, and the hook transition it reports. */
export const TERMINATE_DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action";
export const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";
