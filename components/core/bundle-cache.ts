/**
 * Artifacts cached by content, so a `pulumi preview` whose callbacks did not change builds nothing.
 *
 * A key names everything that decides an archive's bytes besides files on disk (the serialized
 * callbacks, the runtime entry and its options, the Node.js major, externals, host, extra files, the
 * esbuild version and the code that builds); an entry also records the SHA-256 of every file esbuild
 * read, and is used only while each of those files still has that content. npm extracts every file
 * of a package with the same fixed mtime, so an mtime or size check would miss an upgrade.
 *
 * Two layers: this process's artifacts in memory (files do not change while a program runs, and a
 * stack or a test builds the same artifact for several components), and entries on disk
 * (`<key>.json`), written to a temporary file and renamed into place, so concurrent programs never
 * read a torn entry; an entry that does not parse or whose zip does not match its hash is a miss.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Artifact } from "./artifact";

/** Environment variable naming the cache folder. */
export const CACHE_DIR_VARIABLE = "QUEUE_PATTERNS_CACHE_DIR";
/** Environment variable that turns the on-disk cache off when set to `off`. */
export const CACHE_SWITCH_VARIABLE = "QUEUE_PATTERNS_CACHE";

/** Changes when the entry layout changes, so older entries become misses. */
const ENTRY_FORMAT = 1;

/** What an entry on disk holds. */
interface CacheEntry {
  format: number;
  key: string;
  /** SHA-256 (hex) of each file the build read, by absolute path. */
  inputs: Record<string, string>;
  artifact: Artifact;
}

/** A fresh build: the artifact and the absolute paths of the files it was built from. */
export interface BuiltArtifact {
  artifact: Artifact;
  inputs: string[];
}

/** SHA-256 of a file's content by absolute path (undefined: unreadable), once per process. */
const fileDigests = new Map<string, string | undefined>();

/** The SHA-256 (hex) of a file's content, or undefined when it cannot be read; memoized per process. */
export function fileDigest(file: string): string | undefined {
  if (fileDigests.has(file)) return fileDigests.get(file);
  let digest: string | undefined;
  try {
    digest = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  } catch {
    digest = undefined;
  }
  fileDigests.set(file, digest);
  return digest;
}

/** The cache key of `parts` (any JSON): a SHA-256, hex. */
export function cacheKey(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/**
 * The folder for entries: `QUEUE_PATTERNS_CACHE_DIR` when set; otherwise `node_modules/.cache/queue-patterns`
 * in the program's package (the find-cache-dir convention, from the working folder up to the nearest
 * package.json), or `queue-patterns-cache` in the OS temp folder when that package has no
 * node_modules. Undefined when `QUEUE_PATTERNS_CACHE=off`.
 */
export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env[CACHE_SWITCH_VARIABLE]?.toLowerCase() === "off") return undefined;
  const configured = env[CACHE_DIR_VARIABLE];
  if (configured) return path.resolve(cwd, configured);
  const programRoot = nearestPackageRoot(cwd);
  const nodeModules = programRoot && path.join(programRoot, "node_modules");
  if (nodeModules && isWritableFolder(nodeModules)) return path.join(nodeModules, ".cache", "queue-patterns");
  return path.join(os.tmpdir(), "queue-patterns-cache");
}

function nearestPackageRoot(from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function isWritableFolder(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** This process's artifacts by key; a promise, so concurrent builds of one artifact run once. */
const artifactsBuilt = new Map<string, Promise<Artifact>>();

/**
 * The artifact for `key`: from this process, else from the on-disk cache in `dir` (when its inputs
 * are unchanged), else from `build`, whose result is then stored. Without `dir` only this process's
 * artifacts are reused.
 */
export function cachedArtifact(
  key: string,
  dir: string | undefined,
  build: () => Promise<BuiltArtifact>,
): Promise<Artifact> {
  let artifact = artifactsBuilt.get(key);
  if (artifact === undefined) {
    artifact = loadOrBuild(key, dir, build);
    artifactsBuilt.set(key, artifact);
    // A failed build is not remembered: the next attempt reports its own error.
    artifact.catch(() => artifactsBuilt.delete(key));
  }
  return artifact;
}

async function loadOrBuild(
  key: string,
  dir: string | undefined,
  build: () => Promise<BuiltArtifact>,
): Promise<Artifact> {
  const file = dir && path.join(dir, `${key}.json`);
  const cached = file ? readEntry(file, key) : undefined;
  if (cached) return cached;
  const built = await build();
  if (file) writeEntry(file, key, built);
  return built.artifact;
}

/** The entry's artifact when it is whole, for `key`, and every input still has its recorded content. */
export function readEntry(file: string, key: string): Artifact | undefined {
  let entry: CacheEntry;
  try {
    entry = JSON.parse(fs.readFileSync(file, "utf8")) as CacheEntry;
  } catch {
    return undefined;
  }
  if (!isWholeEntry(entry, key)) return undefined;
  for (const [input, digest] of Object.entries(entry.inputs)) {
    if (fileDigest(input) !== digest) return undefined;
  }
  return entry.artifact;
}

function isWholeEntry(entry: CacheEntry, key: string): boolean {
  const artifact = entry?.artifact;
  if (entry?.format !== ENTRY_FORMAT || entry.key !== key) return false;
  if (typeof entry.inputs !== "object" || entry.inputs === null) return false;
  if (typeof artifact?.zipBase64 !== "string" || typeof artifact.files !== "object" || artifact.files === null) {
    return false;
  }
  if (!Object.values(artifact.files).every((content) => typeof content === "string")) return false;
  const zip = Buffer.from(artifact.zipBase64, "base64");
  return createHash("sha256").update(zip).digest("hex") === artifact.sha256;
}

/**
 * Stores an entry by writing a temporary file and renaming it over `file`: readers see the old
 * entry or the new one, never part of one. The cache is an optimisation: a failed write is ignored.
 */
function writeEntry(file: string, key: string, built: BuiltArtifact): void {
  const inputs: Record<string, string> = {};
  for (const input of built.inputs) {
    const digest = fileDigest(input);
    // A file that cannot be read again cannot be checked later: such a build is not cached.
    if (digest === undefined) return;
    inputs[input] = digest;
  }
  const entry: CacheEntry = { format: ENTRY_FORMAT, key, inputs, artifact: built.artifact };
  const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(partial, JSON.stringify(entry));
    fs.renameSync(partial, file);
  } catch {
    fs.rmSync(partial, { force: true });
  }
}
