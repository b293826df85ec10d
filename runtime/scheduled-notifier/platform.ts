/**
 * What both functions take from the Lambda platform: the environment the component set, and
 * structured log lines (`logEvent`: one object per line in Lambda's JSON log format).
 */
export { logEvent as log } from "../shared/lambda-log";

/** A variable the component always sets; missing means the function runs outside the component. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the environment variable ${name} is not set; the component sets it`);
  return value;
}
