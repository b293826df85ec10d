/**
 * The docs stay true to the code: the generated tables of docs/*.md are what `npm run docs` writes
 * from the TSDoc now, every ```ts block of docs/*.md and README.md compiles against the library, and
 * each component page follows the one outline.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ts from "typescript";
import {
  ApiDocs,
  docPages,
  generatePages,
  libraryProgram,
  regionsOf,
  repoCompilerOptions,
  repoRoot,
} from "../scripts/docs";

const root = repoRoot();
const relative = (file: string) => path.relative(root, file);

const COMPONENT_PAGES: Record<string, string> = {
  "fan-out-ingest.md": "FanOutIngest",
  "fifo-ingester.md": "FifoIngester",
  "persistent-eni-asg.md": "PersistentEniAsg",
  "scheduled-notifier.md": "ScheduledNotifier",
  "dedup-forwarding-queue.md": "DedupForwardingQueue",
};

describe("generated tables", () => {
  let docs: ApiDocs;
  before(() => {
    docs = new ApiDocs(libraryProgram(root), root);
  });

  for (const page of docPages(root)) {
    it(`${relative(page)}: its generated regions are what npm run docs writes`, () => {
      const [{ stale }] = generatePages(docs, [page]);
      assert.deepEqual(
        stale.map((region) => `${relative(region.file)}: generated:${region.kind} ${region.name}`),
        [],
        "these regions differ from the TSDoc; run npm run docs and commit the result",
      );
    });
  }

  // The cells come from deploying each change (the argument-changes test checks them); the rows must
  // be the arguments there are now.
  for (const [page, component] of Object.entries(COMPONENT_PAGES)) {
    it(`docs/${page}: its "Changing it later" table has one row per argument of ${component}Args`, () => {
      const region = regionsOf(fs.readFileSync(path.join(root, "docs", page), "utf8")).find(
        (r) => r.kind === "changes",
      );
      const rows = (region?.body ?? "").split("\n").slice(2);
      assert.deepEqual(
        rows.map((row) => row.split("|")[1].trim().replace(/`/g, "")).sort(),
        docs.argumentNames(`${component}Args`).sort(),
        `docs/${page}: run npm run docs`,
      );
    });
  }

  it("reports a region whose table differs (self-check)", () => {
    const dir = fs.mkdtempSync(path.join(root, "dist", ".docs-check-"));
    try {
      const page = path.join(dir, "page.md");
      fs.writeFileSync(page, "<!-- generated:outputs FifoIngester -->\n\n| stale |\n\n<!-- /generated -->\n");
      const [{ stale, generated }] = generatePages(docs, [page]);
      assert.deepEqual(
        stale.map(({ kind, name }) => `${kind} ${name}`),
        ["outputs FifoIngester"],
      );
      assert.match(regionsOf(generated)[0].body, /\| `topicArn` +\|/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists both forms of a create-or-use argument, each required in its own form", () => {
    const required = (table: string, argument: string) =>
      table
        .split("\n")
        .find((row) => row.startsWith(`| \`${argument}\` `))
        ?.split("|")[3]
        .trim();
    const fifo = docs.argsTable("FifoIngesterArgs");
    assert.equal(required(fifo, "topic.kmsKeyId"), "no");
    assert.equal(required(fifo, "topic.existing"), "in its form");
    const eni = docs.argsTable("PersistentEniAsgArgs");
    assert.equal(required(eni, "networkInterface.subnetId"), "in its form");
    assert.equal(required(eni, "networkInterface.existing"), "in its form");
    const notifier = docs.argsTable("ScheduledNotifierArgs");
    assert.equal(required(notifier, "apiToken.value"), "in its form");
    assert.equal(required(notifier, "apiToken.kmsKeyArn"), "no");
  });
});

/** A ```ts block of a page: where it starts and its code. */
interface CodeBlock {
  file: string;
  /** The line of the opening fence, 1-based. */
  line: number;
  code: string;
}

function codeBlocks(file: string): CodeBlock[] {
  const text = fs.readFileSync(file, "utf8");
  return [...text.matchAll(/^```ts([^\n]*)\n([\s\S]*?)^```/gm)]
    .filter((match) => !match[1].split(/\s+/).includes("no-compile"))
    .map((match) => ({ file, line: text.slice(0, match.index).split("\n").length, code: match[2] }));
}

/** How a block is named in failures: its file, line and first line of code. */
function blockName(block: CodeBlock): string {
  return `${relative(block.file)}:${block.line} (${JSON.stringify(block.code.split("\n")[0])})`;
}

/**
 * Compiler options for the blocks: the repository's, with `queue-patterns` mapped to
 * the sources of the package.json exports (`queue-patterns/errors` to runtime/errors.ts), as a stack that installed the
 * package imports them; unused names are allowed (examples declare what they show).
 */
function snippetOptions(): ts.CompilerOptions {
  return {
    ...repoCompilerOptions(root),
    noEmit: true,
    incremental: false,
    declaration: false,
    sourceMap: false,
    noUnusedLocals: false,
    noUnusedParameters: false,
    rootDir: undefined,
    outDir: undefined,
    tsBuildInfoFile: undefined,
    baseUrl: root,
    paths: exportedSources(),
    typeRoots: [path.join(root, "node_modules", "@types")],
  };
}

/** Each package.json export's TypeScript source, by the name a stack imports it under. */
function exportedSources(): Record<string, string[]> {
  const { exports } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    exports: Record<string, string | { default: string }>;
  };
  return Object.fromEntries(
    Object.entries(exports)
      .filter(([, target]) => typeof target === "object")
      .map(([subpath, target]) => [
        path.posix.join("queue-patterns", subpath),
        [(target as { default: string }).default.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts")],
      ]),
  );
}

/** A snippet that must not compile: `handler` is not a number. */
const BROKEN_SNIPPET = `import { FifoIngester } from "queue-patterns";\nnew FifoIngester("broken", { handler: 42 });\n`;

describe("code examples", () => {
  const pages = [...docPages(root), path.join(root, "README.md")];
  const blocks = pages.flatMap(codeBlocks);
  // Inside the repository, so the blocks resolve @pulumi/* and the SDKs from its node_modules.
  const dir = fs.mkdtempSync(path.join(root, "dist", ".docs-snippets-"));
  const fileOf = new Map<CodeBlock, string>();
  blocks.forEach((block, i) => {
    const file = path.join(dir, `${path.basename(block.file, ".md")}-${i}.ts`);
    // `export {}` makes each block a module of its own, so blocks do not share top-level names.
    fs.writeFileSync(file, `${block.code}\nexport {};\n`);
    fileOf.set(block, file);
  });
  const broken = path.join(dir, "broken.ts");
  fs.writeFileSync(broken, BROKEN_SNIPPET);

  let diagnostics: Map<string, readonly ts.Diagnostic[]>;
  before(() => {
    const program = ts.createProgram([...fileOf.values(), broken], snippetOptions());
    diagnostics = new Map(
      [...fileOf.values(), broken].map((file) => {
        const source = program.getSourceFile(file);
        assert.ok(source, `${file} is in the program`);
        return [file, ts.getPreEmitDiagnostics(program, source)];
      }),
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The diagnostics of a block's file, with lines of the page it came from. */
  function problems(file: string, firstLine: number): string[] {
    return (diagnostics.get(file) ?? []).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ");
      if (!diagnostic.file || diagnostic.start === undefined) return message;
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      return `line ${firstLine + 1 + line}: TS${diagnostic.code} ${message}`;
    });
  }

  it("finds the examples", () => {
    assert.ok(blocks.length > 0, "no ```ts blocks in docs/*.md or README.md");
  });

  for (const block of blocks) {
    it(`${blockName(block)} compiles`, () => {
      const found = problems(fileOf.get(block)!, block.line);
      assert.equal(found.length, 0, `${blockName(block)} does not compile:\n${found.join("\n")}`);
    });
  }

  it("reports a block that does not compile (self-check)", () => {
    const found = problems(broken, 0);
    assert.ok(
      found.some((problem) => /TS2322 Type 'number' is not assignable to type 'FifoRecordHandler/.test(problem)),
      `the broken snippet should fail on its handler: ${found.join("\n")}`,
    );
  });
});

/** The outline every component page follows, in this order. */
const COMPONENT_OUTLINE = [
  "What it builds",
  "Minimal example",
  "Arguments",
  "Outputs",
  "Changing it later",
  "Security",
  "Failure model",
  "Limits inherited from the service",
  "Cost when idle",
];

describe("component pages", () => {
  for (const [page, component] of Object.entries(COMPONENT_PAGES)) {
    it(`docs/${page} follows the component outline and holds ${component}'s tables`, () => {
      const text = fs.readFileSync(path.join(root, "docs", page), "utf8");
      const headings = [...text.matchAll(/^## (.+)$/gm)].map((match) => match[1]);
      assert.deepEqual(
        headings.filter((heading) => COMPONENT_OUTLINE.includes(heading)),
        COMPONENT_OUTLINE,
        `docs/${page}: its ## sections must include, in this order: ${COMPONENT_OUTLINE.join(", ")}`,
      );
      assert.deepEqual(
        regionsOf(text).map(({ kind, name }) => `${kind} ${name}`),
        [`args ${component}Args`, `outputs ${component}`, `changes ${component}Args`],
        `docs/${page}: the Arguments, Outputs and Changing it later sections hold the generated regions`,
      );
      assert.match(text, /```mermaid/, `docs/${page}: "What it builds" has a Mermaid diagram`);
    });
  }
});
