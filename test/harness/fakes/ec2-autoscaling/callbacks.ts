/** What the attacher tests and the `npm start` scenario run on the fake: options and an `afterAttach`. */
import type { AfterAttachInput, AttacherOptions } from "../../../../runtime/persistent-eni-asg/attacher";

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
    tagKey: "Eth1",
    pollIntervalMs: 25,
    forceDetachAfterMs: 400,
    heartbeatIntervalMs: 150,
    completionReserveMs: 2_000,
    maxAttempts: 5,
    ...overrides,
  };
}
