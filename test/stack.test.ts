import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { installMocks } from "./harness/mocks";

const recorder = installMocks();

/** Loads the stack program afresh with the given config, as `pulumi up` would. */
function runStack(config: Record<string, string>): unknown {
  pulumi.runtime.setAllConfig(config);
  const program = require.resolve("../index");
  delete require.cache[program];
  return require(program);
}

describe("the dev stack program", () => {
  it("builds nothing and exports nothing when no component is enabled", async () => {
    const outputs = runStack({ "aws:region": "us-east-1" });
    await recorder.settle();
    assert.deepEqual(outputs, {});
    assert.equal(recorder.resources.length, 0);
  });

  it("rejects a config key that names no component or setting, listing the known ones", () => {
    assert.throws(
      () => runStack({ "queue-patterns:fifoIngestr": JSON.stringify({ enabled: true }) }),
      /config queue-patterns:fifoIngestr names no component or setting of this stack; component sections: fanOutIngest, .*; other settings: scheduledNotifierApiToken /,
    );
  });

  it("reads queue-patterns:scheduledNotifierApiToken, the secret Pulumi.dev.yaml tells the user to set", async () => {
    assert.doesNotThrow(() =>
      runStack({
        "aws:region": "us-east-1",
        "queue-patterns:scheduledNotifierApiToken": "token",
        "queue-patterns:scheduledNotifier": JSON.stringify({ enabled: false }),
      }),
    );
    await recorder.settle();
  });
});
