/**
 * Source maps for serialized callbacks, so a stack trace from inside a callback names the line of
 * the user's own source (TypeScript, when the program was compiled with source maps or runs under
 * ts-node) rather than a line of the generated closure.
 *
 * The serializer embeds each callback's text verbatim (`callback.toString()`), so its lines are the
 * lines of the script V8 compiled, from where the function starts. That script and its source map
 * are found through the inspector: V8 reports every script it parsed with its URL and
 * `sourceMappingURL` (for ts-node, an inline data URL), and the function's `[[FunctionLocation]]`.
 * The map returned for the serialized module maps each line of the callback to the script's map
 * (composed), or to the script itself when it has none; esbuild then carries it into the bundle's map.
 */
import * as fs from "node:fs";
import type { Session } from "node:inspector";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A script V8 parsed: its URL and the source map it names, if any. */
interface ParsedScript {
  url: string;
  sourceMapURL: string;
}

/** A source map, version 3, as far as this module reads and writes it. */
interface SourceMapPayload {
  version: number;
  sources: string[];
  sourceRoot?: string;
  names?: string[];
  mappings: string;
}

let inspector: Promise<{ session: Session; scripts: Map<string, ParsedScript> }> | undefined;

/** One inspector session per process, told about every script before and after it opened. */
function inspectorSession(): Promise<{ session: Session; scripts: Map<string, ParsedScript> }> {
  inspector ??= (async () => {
    const { Session } = require("node:inspector") as typeof import("node:inspector");
    const session = new Session();
    session.connect();
    const scripts = new Map<string, ParsedScript>();
    // Listening before `Debugger.enable`, which reports every script already parsed.
    session.on("Debugger.scriptParsed", ({ params }) => {
      scripts.set(params.scriptId, { url: params.url, sourceMapURL: params.sourceMapURL ?? "" });
    });
    await post(session, "Debugger.enable", {});
    return { session, scripts };
  })();
  return inspector;
}

function post<T>(session: Session, method: string, params: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))),
  );
}

/** Where V8 compiled `callback`: the script and the 0-based line and column the function starts at. */
async function functionLocation(
  callback: (...args: never[]) => unknown,
): Promise<{ script: ParsedScript; line: number; column: number } | undefined> {
  const { session, scripts } = await inspectorSession();
  const slot = `__queuePatternsSourceMap${process.hrtime.bigint()}`;
  (globalThis as Record<string, unknown>)[slot] = callback;
  try {
    const { result } = await post<{ result: { objectId?: string } }>(session, "Runtime.evaluate", {
      expression: `globalThis.${slot}`,
    });
    if (!result.objectId) return undefined;
    const { internalProperties } = await post<{
      internalProperties?: {
        name: string;
        value?: { value?: { scriptId: string; lineNumber: number; columnNumber: number } };
      }[];
    }>(session, "Runtime.getProperties", { objectId: result.objectId, ownProperties: false });
    await post(session, "Runtime.releaseObject", { objectId: result.objectId });
    const location = internalProperties?.find((p) => p.name === "[[FunctionLocation]]")?.value?.value;
    const script = location && scripts.get(location.scriptId);
    if (!location || !script?.url) return undefined;
    return { script, line: location.lineNumber, column: location.columnNumber };
  } finally {
    delete (globalThis as Record<string, unknown>)[slot];
  }
}

/**
 * A `//# sourceMappingURL=` comment (inline) for `serialized`, the serializer's module text of
 * `callback`, mapping the callback's lines to its source; undefined when the callback's text or
 * location cannot be found (the bundle then maps those lines to the generated module).
 */
export async function callbackSourceMapComment(
  callback: (...args: never[]) => unknown,
  serialized: string,
): Promise<string | undefined> {
  const text = callback.toString();
  const offset = serialized.indexOf(text);
  if (offset < 0) return undefined;
  const location = await functionLocation(callback);
  if (location === undefined) return undefined;
  const before = serialized.slice(0, offset);
  const generatedLine = before.split("\n").length - 1;
  const generatedColumn = offset - (before.lastIndexOf("\n") + 1);
  const scriptFile = location.script.url.startsWith("file:") ? fileURLToPath(location.script.url) : location.script.url;
  const original = readSourceMap(location.script.sourceMapURL, scriptFile);
  const lineCount = text.split("\n").length;
  const sources: string[] = original ? [...original.sources] : [pathToFileURL(scriptFile).href];
  // The serializer's own lines (the closure's wrapper) map to themselves in a source of their own,
  // so a frame there is not taken for a line of the callback.
  const wrapper = sources.push(SERIALIZED_CLOSURE_SOURCE) - 1;
  const wrapperLine = (line: number) => [[0, wrapper, line, 0]];
  const lines: number[][][] = Array.from({ length: generatedLine }, (_, line) => wrapperLine(line));
  const scriptLines = original ? decodeMappings(original.mappings) : [];
  for (let k = 0; k < lineCount; k++) {
    const scriptLine = location.line + k;
    // The first line starts mid-line in both texts; the others are the same from column 0.
    const fromColumn = k === 0 ? location.column : 0;
    const shift = k === 0 ? generatedColumn - location.column : 0;
    const segments = original
      ? (scriptLines[scriptLine] ?? [])
          .filter((segment) => segment.length >= 4 && segment[0] >= fromColumn)
          .map(([column, source, line, sourceColumn]) => [column + shift, source, line, sourceColumn])
      : [[fromColumn + shift, 0, scriptLine, fromColumn]];
    lines.push(segments);
  }
  const serializedLines = serialized.split("\n").length;
  for (let line = lines.length; line < serializedLines; line++) lines.push(wrapperLine(line));
  const map: SourceMapPayload = { version: 3, sources, mappings: encodeMappings(lines) };
  return `\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`;
}

/** The script's source map with absolute sources, or undefined when it has none or it cannot be read. */
function readSourceMap(sourceMapURL: string, scriptFile: string): SourceMapPayload | undefined {
  if (!sourceMapURL) return undefined;
  try {
    let text: string;
    let base: string;
    const inline = sourceMapURL.match(/^data:application\/json;(?:charset=[^;,]+;)?base64,(.*)$/);
    if (inline) {
      text = Buffer.from(inline[1], "base64").toString("utf8");
      base = path.dirname(scriptFile);
    } else {
      const file = sourceMapURL.startsWith("file:")
        ? fileURLToPath(sourceMapURL)
        : path.resolve(path.dirname(scriptFile), sourceMapURL);
      text = fs.readFileSync(file, "utf8");
      base = path.dirname(file);
    }
    const payload = JSON.parse(text) as SourceMapPayload;
    const root = path.resolve(base, payload.sourceRoot ?? "");
    const sources = payload.sources.map((source) =>
      /^[a-z]+:/i.test(source) ? source : pathToFileURL(path.resolve(root, source)).href,
    );
    return { ...payload, sourceRoot: undefined, sources };
  } catch {
    return undefined;
  }
}

/** The name stack traces give the serializer's generated lines around a callback. */
const SERIALIZED_CLOSURE_SOURCE = "queue-patterns-serialized-closure.js";

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** A source map's `mappings`, decoded to absolute numbers: per generated line, its segments. */
function decodeMappings(mappings: string): number[][][] {
  const state = [0, 0, 0, 0, 0];
  return mappings.split(";").map((line) => {
    state[0] = 0;
    return line
      .split(",")
      .filter((segment) => segment.length > 0)
      .map((segment) => {
        const values = decodeVlq(segment);
        return values.map((value, i) => (state[i] += value));
      });
  });
}

function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/** `mappings` for segments given in absolute numbers `[column, source, line, sourceColumn]` per line. */
function encodeMappings(lines: number[][][]): string {
  const previous = [0, 0, 0, 0];
  return lines
    .map((segments) => {
      previous[0] = 0;
      return segments
        .map((segment) => {
          const encoded = segment.map((value, i) => encodeVlq(value - previous[i])).join("");
          segment.forEach((value, i) => (previous[i] = value));
          return encoded;
        })
        .join(",");
    })
    .join(";");
}

function encodeVlq(value: number): string {
  let rest = value < 0 ? (-value << 1) | 1 : value << 1;
  let encoded = "";
  do {
    let digit = rest & 31;
    rest >>>= 5;
    if (rest > 0) digit |= 32;
    encoded += BASE64[digit];
  } while (rest > 0);
  return encoded;
}
