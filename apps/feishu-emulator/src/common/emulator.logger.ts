/** The subset of a pino logger the emulator uses; never pass it secrets, tokens or request bodies. */
export interface EmulatorLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const SILENT_LOGGER: EmulatorLogger = {
  info: () => undefined,
  error: () => undefined,
};
