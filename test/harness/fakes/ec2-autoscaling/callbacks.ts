/** What the attacher tests and the `npm start` scenario run on the fake: options and an `afterAttach`. */
import {
  type AfterAttachInput,
  type AttacherOptions,
  FAILURE_QUEUE_URL_ENV,
  PERSISTENT_ENI_ID_ENV,
} from "../../../../runtime/persistent-eni-asg/contract";

/**
 * An `afterAttach` callback as a user would write one to update DNS: it reports the attach to the
 * fake endpoint (AWS_ENDPOINT_URL), and throws when the endpoint fails.
 */
export async function reportAfterAttach(input: AfterAttachInput): Promise<void> {
  // AFTER_ATTACH_PATH written out: a packaged callback takes along only what it closes over, not its module.
  const response = await fetch(`${process.env.AWS_ENDPOINT_URL}/after-attach`, {
    method: "POST",
    body: JSON.stringify(input),
  });
  if (!response.ok) throw new Error(`the DNS update answered ${response.status}`);
}

/** Attacher options for runs on the fake: the component's, with waits in milliseconds instead of seconds. */
export function fakeAttacherOptions(group: string, overrides: Partial<AttacherOptions> = {}): AttacherOptions {
  return {
    autoScalingGroupName: group,
    pollIntervalMs: 25,
    forceDetachAfterMs: 400,
    heartbeatIntervalMs: 150,
    completionReserveMs: 2_000,
    maxAttempts: 5,
    ...overrides,
  };
}

/** The persistent ENI's id in the attacher tests: the component passes the id it created or adopted. */
export const PERSISTENT_ENI_ID = "eni-0persistent000000";

/** The environment the component gives the attacher: the ENI's id and the failure queue's URL. */
export function attacherEnvironment(
  failureQueueUrl: string,
  networkInterfaceId = PERSISTENT_ENI_ID,
): Record<string, string> {
  return { [PERSISTENT_ENI_ID_ENV]: networkInterfaceId, [FAILURE_QUEUE_URL_ENV]: failureQueueUrl };
}
