/**
 * Every public argument of every component, changed after a first deployment: the component is
 * built before and after on the same URNs and each child classified by the providers' replacement
 * model (the cases are in test/harness/change-cases.ts). The page's generated "Changing it later"
 * table must say what each change does now, data losses included, so a change that replaces or
 * deletes a child holding data is never one the docs leave out.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { argumentImpact, changeRow, COMPONENTS } from "../harness/change-cases";
import { ApiDocs, libraryProgram, regionsOf, repoRoot } from "../../scripts/docs";

/** The cells of each row of the page's generated "Changing it later" table, by argument. */
function committedRows(page: string, argsName: string): Map<string, string[]> {
  const text = fs.readFileSync(path.join(repoRoot(), "docs", page), "utf8");
  const region = regionsOf(text).find((r) => r.kind === "changes" && r.name === argsName);
  assert.ok(region, `docs/${page} has a <!-- generated:changes ${argsName} --> region; run npm run docs`);
  const rows = region.body
    .split("\n")
    .slice(2)
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replace(/\\\|/g, "|")),
    );
  return new Map(rows.map((cells) => [cells[0].replace(/`/g, ""), cells]));
}

describe("every argument change, after a first deployment", () => {
  const api = new ApiDocs(libraryProgram());
  for (const component of COMPONENTS) {
    it(`${component.args}: every argument has a change here`, () => {
      assert.deepEqual(Object.keys(component.changes).sort(), api.argumentNames(component.args).sort());
    });
    for (const argument of Object.keys(component.changes)) {
      it(`${component.args}.${argument}: docs/${component.page} says what the change does`, async () => {
        const impact = await argumentImpact(component, argument);
        assert.deepEqual(impact.rejected, []);
        if (impact.refused === undefined) {
          assert.ok(
            impact.children.some((i) => i.impact !== "unchanged"),
            "the change reaches a child",
          );
        }
        assert.deepEqual(
          committedRows(component.page, component.args).get(argument),
          changeRow(impact),
          `the "Changing it later" row of ${argument} in docs/${component.page} is stale; run npm run docs`,
        );
      });
    }
  }
});
