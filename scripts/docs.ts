/**
 * `npm run docs`: writes the argument and output tables of docs/*.md from the TSDoc of the public
 * API, so a default or a description is written once, next to the code. A region reads
 * `<!-- generated:args FifoIngesterArgs -->` (or `generated:outputs FifoIngester`) ... `<!-- /generated -->`.
 * A `generated:changes FifoIngesterArgs` region ("Changing it later") is written from the change
 * cases of test/harness/change-cases.ts, which deploy each argument's change under the mocks (a few
 * minutes); the argument-changes test fails when one of its rows differs from what its case does now.
 * `--check` writes nothing, runs no change case, and exits non-zero, naming each file and region that differs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

/** The Args interfaces of the components and building blocks, in the order the docs present them. */
export const DOCUMENTED_ARGS = [
  "FanOutIngestArgs",
  "FifoIngesterArgs",
  "PersistentEniAsgArgs",
  "ScheduledNotifierArgs",
  "DedupForwardingQueueArgs",
  "LambdaFunctionArgs",
  "LambdaFunctionSettings",
  "FunctionAppArgs",
  "FunctionAppSettings",
] as const;

/** The component classes whose outputs are documented. */
export const DOCUMENTED_OUTPUTS = [
  "FanOutIngest",
  "FifoIngester",
  "PersistentEniAsg",
  "ScheduledNotifier",
  "DedupForwardingQueue",
  "LambdaFunction",
  "FunctionApp",
] as const;

export type RegionKind = "args" | "outputs" | "changes";

/** One generated region of a page: its kind, the documented name, and the table between its markers. */
export interface Region {
  kind: RegionKind;
  name: string;
  /** The text between the opening and closing markers, without the blank lines next to them. */
  body: string;
}

const REGION = /<!-- generated:(args|outputs|changes) (\w+) -->([\s\S]*?)<!-- \/generated -->/g;

/** Every generated region of a Markdown text, in order. */
export function regionsOf(markdown: string): Region[] {
  return [...markdown.matchAll(REGION)].map((match) => ({
    kind: match[1] as RegionKind,
    name: match[2],
    body: match[3].trim(),
  }));
}

/**
 * The text with every generated region's body replaced by what `generate` returns for it (given
 * the body it holds now), set off by blank lines as Prettier writes a table next to a comment.
 */
export function replaceRegions(
  markdown: string,
  generate: (kind: RegionKind, name: string, body: string) => string,
): string {
  return markdown.replace(
    REGION,
    (_match, kind: RegionKind, name: string, body: string) =>
      `<!-- generated:${kind} ${name} -->\n\n${generate(kind, name, body.trim())}\n\n<!-- /generated -->`,
  );
}

/** The repository root, from this file compiled into dist/scripts or run from scripts/. */
export function repoRoot(): string {
  const up = path.resolve(__dirname, "..");
  return path.basename(up) === "dist" ? path.resolve(up, "..") : up;
}

/** The compiler options of the repository's tsconfig.json. */
export function repoCompilerOptions(root: string): ts.CompilerOptions {
  const configPath = path.join(root, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, root, { noEmit: true }, configPath).options;
}

/** A program over the library's public entry point, components/index.ts. */
export function libraryProgram(root: string = repoRoot()): ts.Program {
  return ts.createProgram([path.join(root, "components", "index.ts")], repoCompilerOptions(root));
}

/** Reads the public API of components/index.ts and renders its tables. */
export class ApiDocs {
  private readonly checker: ts.TypeChecker;
  private readonly exports = new Map<string, ts.Symbol>();

  constructor(
    program: ts.Program,
    private readonly root: string = repoRoot(),
  ) {
    this.checker = program.getTypeChecker();
    const index = program.getSourceFile(path.join(root, "components", "index.ts"));
    const moduleSymbol = index && this.checker.getSymbolAtLocation(index);
    if (!moduleSymbol) throw new Error("components/index.ts is not in the program");
    for (const exported of this.checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(exported) : exported;
      this.exports.set(exported.name, symbol);
    }
  }

  /** The top-level arguments of an Args interface, in declaration order. */
  argumentNames(interfaceName: string): string[] {
    const type = this.checker.getDeclaredTypeOfSymbol(this.exported(interfaceName));
    return this.checker.getPropertiesOfType(type).map((property) => property.name);
  }

  /** The table of `kind` ("args" or "outputs") for `name`, as a region holds it. */
  table(kind: Exclude<RegionKind, "changes">, name: string): string {
    return kind === "args" ? this.argsTable(name) : this.outputsTable(name);
  }

  /**
   * argument | type | required | default | description, one row per property (inherited ones
   * included), and one `parent.child` row per property of an object-typed argument of this library.
   */
  argsTable(interfaceName: string): string {
    const type = this.checker.getDeclaredTypeOfSymbol(this.exported(interfaceName));
    const rows: string[][] = [];
    for (const property of this.checker.getPropertiesOfType(type)) {
      rows.push(this.argumentRow(property.name, property, isOptional(property) ? "no" : "yes"));
      for (const { child, required } of this.nestedProperties(property)) {
        rows.push(this.argumentRow(`${property.name}.${child.name}`, child, required));
      }
    }
    return markdownTable(["argument", "type", "required", "default", "description"], rows);
  }

  /** name | type | description of the component's public readonly fields, inherited ones of this library included. */
  outputsTable(className: string): string {
    const type = this.checker.getDeclaredTypeOfSymbol(this.exported(className));
    const rows: string[][] = [];
    for (const property of this.checker.getPropertiesOfType(type)) {
      const declaration = property.valueDeclaration;
      if (!declaration || !ts.isPropertyDeclaration(declaration) || !this.isLibraryNode(declaration)) continue;
      const modifiers = ts.getCombinedModifierFlags(declaration);
      if (
        !(modifiers & ts.ModifierFlags.Readonly) ||
        modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)
      ) {
        continue;
      }
      rows.push([`\`${property.name}\``, this.typeCell(property), this.summary(property)]);
    }
    return markdownTable(["output", "type", "description"], rows);
  }

  private exported(name: string): ts.Symbol {
    const symbol = this.exports.get(name);
    if (!symbol) throw new Error(`${name} is not exported by components/index.ts`);
    return symbol;
  }

  private argumentRow(name: string, property: ts.Symbol, required: string): string[] {
    const defaultTag = property.getJsDocTags(this.checker).find((tag) => tag.name === "default");
    const defaultValue = defaultTag ? docText(ts.displayPartsToString(defaultTag.text)) : "";
    return [`\`${name}\``, this.typeCell(property), required, defaultValue, this.summary(property)];
  }

  /** The first paragraph of the property's TSDoc, on one line. */
  private summary(property: ts.Symbol): string {
    const text = ts.displayPartsToString(property.getDocumentationComment(this.checker));
    return docText(text.split(/\n\s*\n/)[0] ?? "");
  }

  /** The property's type, without the `undefined` an optional property adds. */
  private typeCell(property: ts.Symbol): string {
    const declaration = property.valueDeclaration ?? property.declarations?.[0];
    let type = this.checker.getTypeOfSymbol(property);
    if (isOptional(property)) type = this.checker.getNonNullableType(type);
    const text = this.checker.typeToString(
      type,
      declaration,
      ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope | ts.TypeFormatFlags.NoTruncation,
    );
    return `\`${shortenType(text)}\``;
  }

  /**
   * The properties of an argument whose type is an object type declared in this library (not a
   * function, an array, a record or a Pulumi Input). For a union (`CreateOrUse`), those of every
   * member; a property only some members have is required "in its form" when they require it.
   */
  private nestedProperties(property: ts.Symbol): { child: ts.Symbol; required: string }[] {
    const type = this.checker.getNonNullableType(this.checker.getTypeOfSymbol(property));
    const members = (type.isUnion() ? type.types : [type]).filter(
      (member) =>
        // A CreateOrUse form is an intersection (settings & `existing?: undefined`).
        member.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection) &&
        member.getCallSignatures().length === 0 &&
        !this.checker.isArrayType(member) &&
        this.checker.getIndexInfosOfType(member).length === 0,
    );
    const found = new Map<string, { child: ts.Symbol; requiredIn: number; presentIn: number }>();
    for (const member of members) {
      for (const child of this.checker.getPropertiesOfType(member)) {
        const declaration = child.valueDeclaration ?? child.declarations?.[0];
        if (!declaration || !this.isLibraryNode(declaration)) continue;
        // `existing?: undefined` is how CreateOrUse forbids mixing the forms, not an argument.
        if (this.checker.getTypeOfSymbol(child).flags & ts.TypeFlags.Undefined) continue;
        const entry = found.get(child.name) ?? { child, requiredIn: 0, presentIn: 0 };
        entry.presentIn += 1;
        if (!isOptional(child)) entry.requiredIn += 1;
        found.set(child.name, entry);
      }
    }
    return [...found.values()].map(({ child, requiredIn, presentIn }) => ({
      child,
      required:
        requiredIn === 0
          ? "no"
          : requiredIn === members.length
            ? "yes"
            : presentIn === requiredIn
              ? "in its form"
              : "in some forms",
    }));
  }

  private isLibraryNode(node: ts.Node): boolean {
    const file = path.relative(this.root, node.getSourceFile().fileName);
    return !file.startsWith("..") && !file.split(path.sep).includes("node_modules");
  }
}

/** Type text for a table: no import paths or `pulumi.` prefixes, one line, long unions cut to their gist. */
export function shortenType(text: string): string {
  const short = oneLine(text)
    .replace(/import\("[^"]*"\)\./g, "")
    .replace(/\bpulumi\./g, "");
  return short.length <= 90 ? short : `${short.slice(0, 87).trimEnd()}...`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** TSDoc text for a cell: one line, `{@link X}` as `X` in code. */
function docText(text: string): string {
  return oneLine(text).replace(/\{@link\s+([^}\s]+)\s*\}/g, "`$1`");
}

function isOptional(property: ts.Symbol): boolean {
  return (property.flags & ts.SymbolFlags.Optional) !== 0;
}

/**
 * A Markdown table laid out as Prettier lays it out (cells padded to their column's width, pipes
 * in cells escaped), so `prettier --check` accepts the generated pages as they are.
 */
export function markdownTable(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map((row) => row.map((text) => text.replace(/\|/g, "\\|")));
  const widths = header.map((_, column) => Math.max(3, ...cells.map((row) => row[column].length)));
  const line = (row: string[]) => `| ${row.map((text, column) => text.padEnd(widths[column])).join(" | ")} |`;
  const [head, ...body] = cells;
  return [line(head), line(widths.map((width) => "-".repeat(width))), ...body.map(line)].join("\n");
}

/** The Markdown pages whose regions the script writes: docs/*.md. */
export function docPages(root: string = repoRoot()): string[] {
  const dir = path.join(root, "docs");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => path.join(dir, file));
}

/** A region of a page whose committed table differs from the generated one. */
export interface StaleRegion {
  file: string;
  kind: RegionKind;
  name: string;
}

/**
 * Each page's text as generated now, and the regions that differ from the committed text. A
 * "changes" region is rewritten only when `changeTables` holds its Args interface; otherwise it keeps its text.
 */
export function generatePages(
  docs: ApiDocs,
  pages: string[],
  changeTables: ReadonlyMap<string, string> = new Map(),
): { file: string; text: string; generated: string; stale: StaleRegion[] }[] {
  return pages.map((file) => {
    const text = fs.readFileSync(file, "utf8");
    const generated = replaceRegions(text, (kind, name, body) =>
      kind === "changes" ? (changeTables.get(name) ?? body) : docs.table(kind, name),
    );
    const wanted = regionsOf(generated);
    const stale = regionsOf(text)
      .filter((region, i) => region.body !== wanted[i].body)
      .map(({ kind, name }) => ({ file, kind, name }));
    return { file, text, generated, stale };
  });
}

/**
 * The "Changing it later" table of each Args interface a page has a changes region for, from its
 * change cases. The cases module installs the mocks when loaded, so it is loaded only here.
 */
async function changeTables(pages: string[]): Promise<Map<string, string>> {
  const cases = require("../test/harness/change-cases") as typeof import("../test/harness/change-cases");
  const tables = new Map<string, string>();
  for (const page of pages) {
    for (const region of regionsOf(fs.readFileSync(page, "utf8")).filter((r) => r.kind === "changes")) {
      const impacts = await cases.componentImpacts(cases.casesOf(region.name));
      tables.set(region.name, markdownTable(cases.CHANGES_HEADER, impacts.map(cases.changeRow)));
    }
  }
  return tables;
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes("--check");
  const root = repoRoot();
  const docs = new ApiDocs(libraryProgram(root), root);
  const pages = docPages(root);
  const stale: StaleRegion[] = [];
  for (const page of generatePages(docs, pages, check ? new Map() : await changeTables(pages))) {
    stale.push(...page.stale);
    if (!check && page.generated !== page.text) fs.writeFileSync(page.file, page.generated);
  }
  for (const region of stale) {
    const where = `${path.relative(root, region.file)}: generated:${region.kind} ${region.name}`;
    console.log(check ? `differs: ${where}` : `rewrote: ${where}`);
  }
  if (check && stale.length > 0) {
    console.error(`${stale.length} generated region(s) differ from the TSDoc; run npm run docs`);
    return 1;
  }
  return 0;
}

if (require.main === module) main(process.argv.slice(2)).then((code) => process.exit(code));
