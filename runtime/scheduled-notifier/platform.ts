/**
 * What both functions take from the Lambda platform: the environment the component set, and
 * structured log lines (the functions log in Lambda's JSON format; one object per line).
 */

/** A variable the component always sets; missing means the function runs outside the component. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the environment variable ${name} is not set; the component sets it`);
  return value;
}

export function log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown>): void {
  console[level](JSON.stringify({ message, ...fields }));
}
