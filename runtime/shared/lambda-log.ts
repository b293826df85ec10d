/**
 * Structured log lines for the Lambda runtimes. The functions use Lambda's JSON log format, in which
 * the Node.js runtime client writes each console call as one line
 * `{"timestamp","level","requestId","message"}`, `level` from the console method (INFO for `info`,
 * WARN for `warn`, ERROR for `error`). A call with one argument keeps that argument as `message`:
 * an object stays an object, while a JSON string would stay an escaped string
 * (aws-lambda-nodejs-runtime-interface-client, src/LogPatch.js, formatJsonMessage;
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html). So each
 * event is logged as one object at its level: CloudWatch Logs Insights filters on its fields
 * (`filter message.groupId = "listing-7"`), and the function's application log level applies.
 */
export type LogLevel = "info" | "warn" | "error";

/** Logs `message` with `fields` as one object at `level`. */
export function logEvent(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  console[level]({ message, ...fields });
}
