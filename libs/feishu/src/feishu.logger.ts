/**
 * The only way the library logs. Pino-compatible argument order, so a pino logger can be passed as is.
 * Fields never carry secrets or tokens.
 */
export interface FeishuLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}
