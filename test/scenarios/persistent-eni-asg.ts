/**
 * PersistentEniAsg's `npm start` scenario: the group replaces its unhealthy instance, and the built
 * attacher, on the fake EC2 and Auto Scaling of test/harness/fakes/ec2-autoscaling/, moves the
 * persistent IP to the new one.
 */
import { buildArtifact, zipBytes } from "../../components/core/artifact";
import { attacherEntry } from "../../components/persistent-eni-asg";
import type { AttacherOutcome } from "../../runtime/persistent-eni-asg/attacher";
import { ArtifactProcess } from "../../testing/artifact-runner";
import { nodeBuild } from "../harness/node-builds";
import {
  attacherEnvironment,
  FakeAws,
  FakeAwsEndpoint,
  fakeAttacherOptions,
  PERSISTENT_ENI_ID,
  reportAfterAttach,
} from "../harness/fakes/ec2-autoscaling";
import type { Scenario } from "./scenario";

/** The text of one of the attacher's log lines: Lambda's JSON log format, the logged object as `message`. */
function attacherLogMessage(line: string): string {
  try {
    const { message } = JSON.parse(line) as { message: { message?: string } | string };
    return typeof message === "string" ? message : (message.message ?? line);
  } catch {
    return line;
  }
}

const GROUP = "queue-patterns-dev-web";
const LAUNCH_HOOK = "web-attach-eni";
const ZONE = "us-east-1a";

export const scenario: Scenario = {
  component: "PersistentEniAsg",
  description: "the group replaces its unhealthy instance; the built attacher moves the persistent IP to the new one",
  async run(context) {
    const artifact = await buildArtifact({
      owner: 'PersistentEniAsg "web"',
      host: "aws-lambda",
      entry: attacherEntry(fakeAttacherOptions(GROUP, { pollIntervalMs: 100, forceDetachAfterMs: 2_000 })),
      callbacks: { afterAttach: reportAfterAttach },
      nodeMajor: 22,
    });
    const world = new FakeAws({ bootMs: 300, attachMs: 200, detachMs: 400, shutdownMs: 30_000 });
    world.onStep = (line) => context.log(line);
    const endpoint = await FakeAwsEndpoint.start(world);
    // Only a failed action is reported to the failure queue; this scenario's launch succeeds.
    const attacher = await ArtifactProcess.start(
      zipBytes(artifact),
      "aws-lambda",
      {
        ...endpoint.env(),
        ...attacherEnvironment("http://127.0.0.1:9/unused-failure-queue"),
      },
      nodeBuild,
    );
    try {
      const description = "queue-patterns/dev/web persistent ENI";
      const eni = world.addEni({
        networkInterfaceId: PERSISTENT_ENI_ID,
        description,
        availabilityZone: ZONE,
        privateIp: "10.0.1.10",
      });
      const old = world.addInstance({ availabilityZone: ZONE, group: GROUP, tags: { Eth1: description } });
      world.attachNow(eni, old);
      context.log(`start: ${old} InService in ${GROUP}, holding ${eni} (10.0.1.10) at device index 1`);

      world.terminate(old);
      const { instanceId, token, event } = world.launch({
        group: GROUP,
        hookName: LAUNCH_HOOK,
        availabilityZone: ZONE,
        tags: { Eth1: description },
      });
      context.log(`EventBridge delivers "${event["detail-type"]}" for ${instanceId} to the attacher`);
      const invocation = await attacher.invoke(event);
      for (const message of new Set(invocation.logs.map(attacherLogMessage))) context.log(`  attacher log: ${message}`);
      const outcome = invocation.result as AttacherOutcome | undefined;
      context.log(`attacher returned ${JSON.stringify(outcome ?? invocation.error)}`);

      const final = world.eni(eni);
      const completions = world.completions.filter((completion) => completion.token === token);
      const ok =
        final.attachment?.instanceId === instanceId &&
        final.attachment.deviceIndex === 1 &&
        completions.length === 1 &&
        completions[0].result === "CONTINUE" &&
        world.instance(instanceId).lifecycleState === "InService" &&
        world.afterAttachCalls.length === 1;
      return {
        ok,
        summary: ok
          ? `10.0.1.10 moved from ${old} to ${instanceId}; one CompleteLifecycleAction (CONTINUE); afterAttach ran once`
          : `unexpected end state: ENI ${JSON.stringify(final)}, completions ${JSON.stringify(completions)}`,
      };
    } finally {
      await attacher.stop();
      await endpoint.close();
    }
  },
};
