/**
 * Which Node.js runs the suite and the artifacts on each platform: the official builds that
 * test/node-builds/package.json declares per os and cpu (npm ci installs only the matching ones, as
 * package-lock.json records each one's os and cpu), the running Node.js where the registry has none.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { NODE_BUILDS_MANIFEST, nodeBuild, nodeBuildSource } from "./harness/node-builds";

const repoRoot = path.resolve(__dirname, "..", "..");
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(repoRoot, file), "utf8"));
const DEPLOYED_MAJORS = [22, 24];

describe("the Node.js builds per platform", () => {
  for (const [platform, arch] of [
    ["linux", "x64"],
    ["linux", "arm64"],
    ["darwin", "x64"],
  ]) {
    it(`${platform}-${arch}: the official build of each deployed major, installed only there`, () => {
      const lock = readJson("package-lock.json").packages as Record<string, Record<string, unknown>>;
      for (const major of DEPLOYED_MAJORS) {
        const source = nodeBuildSource(major, platform, arch, "v20.0.0");
        assert.deepEqual(source, { alias: `node${major}-${platform}-${arch}` });
        const entry = lock[`node_modules/node${major}-${platform}-${arch}`];
        assert.ok(entry, `package-lock.json pins node${major}-${platform}-${arch}`);
        assert.equal(entry.name, `node-${platform}-${arch}`);
        assert.ok(String(entry.version).startsWith(`${major}.`));
        assert.deepEqual([entry.os, entry.cpu, entry.optional, entry.dev], [platform, arch, true, true]);
      }
    });
  }

  it("darwin-arm64 (no official build on the registry): the running Node.js when it is that major, else the fix", () => {
    assert.deepEqual(nodeBuildSource(22, "darwin", "arm64", "v22.12.0"), { running: true });
    const other = nodeBuildSource(24, "darwin", "arm64", "v22.12.0");
    assert.ok("missing" in other);
    assert.match(other.missing, /no Node\.js 24 build for darwin-arm64: .* run the tests on Node\.js 24 itself/);
  });

  it("the published package pulls no Node.js build: they are dev dependencies of the repository only", () => {
    const manifest = readJson("package.json");
    for (const field of ["dependencies", "optionalDependencies", "peerDependencies"]) {
      const specs = Object.values((manifest[field] ?? {}) as Record<string, string>);
      assert.deepEqual(
        specs.filter((spec) => /node-(linux|darwin|win)/.test(spec)),
        [],
        field,
      );
    }
    assert.equal(manifest.devDependencies["queue-patterns-node-builds"], "file:test/node-builds");
    assert.equal(NODE_BUILDS_MANIFEST, path.join(repoRoot, "test", "node-builds", "package.json"));
  });

  it("on this machine each deployed major runs on a Node.js of that major", () => {
    for (const major of DEPLOYED_MAJORS) {
      const source = nodeBuildSource(major, process.platform, process.arch, process.version);
      if ("missing" in source) continue; // Apple silicon without that major: the artifact tests say so.
      assert.match(nodeBuild(major).version, new RegExp(`^v${major}\\.`));
    }
  });
});
