/**
 * Typed reads of the dev stack's config sections. A section is YAML, so nothing but this reader
 * stands between a quoted number or a misspelt key and a component: each read checks the value's
 * JSON type and says which key, the value and the fix; `finish` rejects the keys nobody read, so a
 * typo is an error instead of a setting silently left at its default. The components then check
 * the values themselves, with their own messages.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class ConfigSection {
  private readonly read = new Set<string>();
  private readonly children: ConfigSection[] = [];

  /** `prefix` names the section in messages: `queue-patterns:fifoIngester`. */
  constructor(
    private readonly prefix: string,
    private readonly values: Record<string, Json>,
  ) {}

  string(key: string): string | undefined {
    return this.typed(key, "a string", (value): value is string => typeof value === "string");
  }

  number(key: string): number | undefined {
    return this.typed(key, "a number (unquoted)", (value): value is number => typeof value === "number");
  }

  boolean(key: string): boolean | undefined {
    return this.typed(key, "true or false (unquoted)", (value): value is boolean => typeof value === "boolean");
  }

  strings(key: string): string[] | undefined {
    return this.typed(key, "a list of strings", (value): value is string[] => isListOf(value, "string"));
  }

  /** A map of strings: `{ API_URL: "https://..." }`. */
  stringMap(key: string): Record<string, string> | undefined {
    return this.typed(key, "a map of strings", (value): value is Record<string, string> => isMapOf(value, "string"));
  }

  /** A map of numbers: `{ daily: 86400 }`. */
  numberMap(key: string): Record<string, number> | undefined {
    return this.typed(key, "a map of numbers", (value): value is Record<string, number> => isMapOf(value, "number"));
  }

  /** A nested section (`function:`), read with the same checks under `<key>.`. */
  section(key: string): ConfigSection | undefined {
    const values = this.typed(key, "a map of settings", (value): value is Record<string, Json> => isMap(value));
    return values === undefined ? undefined : this.nested(key, values);
  }

  /** Throws for every key present in the section that no read asked for, naming the ones that were. */
  finish(): void {
    const unknown = Object.keys(this.values).filter((key) => !this.read.has(key));
    if (unknown.length > 0) {
      throw new Error(
        `config ${unknown.map((key) => `${this.prefix}.${key}`).join(", ")} names no setting of ${this.prefix}; ` +
          `its settings: ${[...this.read].join(", ")}.`,
      );
    }
    for (const child of this.children) child.finish();
  }

  private nested(key: string, values: Record<string, Json>): ConfigSection {
    const child = new ConfigSection(`${this.prefix}.${key}`, values);
    this.children.push(child);
    return child;
  }

  private typed<T>(key: string, expected: string, is: (value: Json) => value is T & Json): T | undefined {
    this.read.add(key);
    const value = this.values[key];
    if (value === undefined || value === null) return undefined;
    if (!is(value)) {
      throw new Error(`config ${this.prefix}.${key} ${JSON.stringify(value)} must be ${expected}.`);
    }
    return value;
  }
}

function isMap(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isListOf(value: Json, type: "string" | "number"): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === type);
}

function isMapOf(value: Json, type: "string" | "number"): boolean {
  return isMap(value) && Object.values(value).every((item) => typeof item === type);
}
