// Imported first by main.ts. kafkajs 2.2.4 (its last release) passes a negative delay to setTimeout in its request
// queue, which Node 24 reports as a TimeoutNegativeWarning on stderr (tulios/kafkajs#1751; Node then waits 1 ms,
// which is what kafkajs meant). Drop exactly that warning, whatever starts the process (npm, the Dockerfile, the
// tests); every other warning is emitted as before.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;

process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const option = rest[0];
  const type = typeof option === 'string' ? option : (option as { type?: string } | undefined)?.type ?? (warning instanceof Error ? warning.name : undefined);
  if (type === 'TimeoutNegativeWarning') return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;
