import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const SERVICE_MAIN = path.join(ROOT, 'dist/apps/badge-service/apps/badge-service/src/main.js');
export const EMULATOR_MAIN = path.join(ROOT, 'dist/apps/feishu-emulator/apps/feishu-emulator/src/main.js');

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `{ KAFKA_BROKERS }` when the tests were pointed at another broker (`KAFKA_BROKERS=127.0.0.1:19092 jest ...`). */
export function kafkaBrokersEnv(): Record<string, string> {
  return process.env.KAFKA_BROKERS ? { KAFKA_BROKERS: process.env.KAFKA_BROKERS } : {};
}

/** Runs a built app as a real process (the tests that kill it need a real process). */
export function runNode(main: string, env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    // KAFKA_BROKERS: the broker the tests run against (test/support/kafka.ts) unless the test names another.
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...kafkaBrokersEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return {
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A built app run as a process, with every byte it wrote kept (runNode keeps only the tail). */
export interface WatchedProcess {
  url: string;
  process: RunningProcess;
  /** stdout then stderr, complete. */
  output(): string;
  stop(): Promise<number | null>;
}

/** Keeps every byte `p` writes (runNode keeps only the tail). */
export function watch(p: RunningProcess, url: string): WatchedProcess {
  // Listeners attached in the tick runNode spawned the child: no chunk is emitted before them.
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  p.child.stdout!.on('data', (d: Buffer) => out.push(d));
  p.child.stderr!.on('data', (d: Buffer) => err.push(d));
  return {
    url,
    process: p,
    output: () => `${Buffer.concat(out).toString('utf8')}\n${Buffer.concat(err).toString('utf8')}`,
    stop: () => p.kill('SIGTERM'),
  };
}

export async function httpReady(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).status === 200;
  } catch {
    return false;
  }
}
