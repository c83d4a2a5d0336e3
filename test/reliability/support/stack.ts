import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, Partitioners, Producer } from 'kafkajs';
import { createTestDatabase, dropDatabase } from '../../support/database';
import { BROKERS, createTopic, deleteTopics, OutMessage, uniqueName } from '../../support/kafka';
import { EMULATOR_MAIN, httpReady, ROOT, runNode, RunningProcess, SERVICE_MAIN } from '../../support/service';
import { freePort } from '../../support/ports';
import { APP_ID, APP_SECRET, AUDIT_TOKEN } from '../../support/stack';
import { until } from '../../support/wait';

const exec = promisify(execFile);

/** RELIABILITY_SOAK=1 selects the long variant; the CI variant always runs otherwise. */
export const SOAK = process.env.RELIABILITY_SOAK === '1';
/** RELIABILITY_SEED replays a run; the seed is printed in every report line. */
export const SEED = Number(process.env.RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** The service settings every scenario shares: short session timeout and lease, so recovery is quick. */
export const SERVICE_DEFAULTS: Record<string, string> = {
  BADGE_ROLES: 'ingest,reconcile,api',
  KAFKA_SESSION_TIMEOUT_MS: '6000',
  // Above the suite's longest latency spike (2.5 s): a client timeout shorter than the server's answer leaves the
  // request in flight at Feishu, and the retry meets it (213004). The lease is the shortest the config allows.
  FEISHU_TIMEOUT_MS: '3000',
  RECONCILE_LEASE_MS: '7000',
  RECONCILE_POLL_MS: '500',
  BACKOFF_BASE_MS: '200',
  BACKOFF_MAX_MS: '4000',
  DATABASE_POOL_SIZE: '6',
  LOG_LEVEL: 'warn',
  HTTP_HOST: '127.0.0.1',
};

export class Replica {
  proc?: RunningProcess;
  port = 0;
  /** Set while the test itself stops the process: any other exit is a crash. */
  private stopping = false;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    private readonly onCrash: (what: string) => void,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  alive(): boolean {
    return !!this.proc && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.stopping = false;
    this.starts++;
    const p = runNode(SERVICE_MAIN, { ...this.env, HTTP_PORT: String(this.port) });
    this.proc = p;
    void p.exited.then((code) => {
      if (!this.stopping && this.proc === p) this.onCrash(`${this.name} exited by itself (code ${code}):\n${p.output().slice(-3000)}`);
    });
  }

  async waitLive(timeoutMs = 60_000): Promise<void> {
    await until(`${this.name} live`, () => httpReady(`${this.url}/health/live`), timeoutMs, 100, () => this.alive());
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    await until(`${this.name} ready`, () => httpReady(`${this.url}/health/ready`), timeoutMs, 100, () => this.alive());
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    this.stopping = true;
    return this.proc ? this.proc.kill(signal) : null;
  }
}

export interface StackOptions {
  name: string;
  replicas: number;
  partitions: number;
  emulatorEnv?: Record<string, string>;
  serviceEnv?: Record<string, string>;
}

/** One scenario's world: its own database, topic and group, an emulator process, service replicas. */
export class Stack {
  readonly crashes: string[] = [];
  readonly replicas: Replica[] = [];
  emulator!: { url: string; proc: RunningProcess };
  dbName!: string;
  dbUrl!: string;
  topic!: string;
  groupId!: string;
  private serviceEnv!: Record<string, string>;
  private emulatorStopping = false;

  private constructor(readonly options: StackOptions) {}

  static async start(options: StackOptions): Promise<Stack> {
    const s = new Stack(options);
    try {
      await s.boot();
    } catch (e) {
      const why = `${(e as Error).message}\ncrashes: ${s.crashes.join('\n') || 'none'}\n${s.logTails()}`;
      await s.stop();
      throw new Error(`stack ${options.name} did not start: ${why}`);
    }
    return s;
  }

  private async boot(): Promise<void> {
    const { name } = this.options;
    const db = await createTestDatabase(`rel_${name.replace(/[^a-z0-9]/g, '')}`);
    this.dbName = db.name;
    this.dbUrl = db.url;
    // The test talks to the service only through its public doors: no connection of ours survives to see a
    // Postgres restart.
    await db.ds.destroy();
    this.topic = uniqueName(`rel-${name}`);
    this.groupId = uniqueName(`rel-${name}`);
    await createTopic(this.topic, this.options.partitions);

    const emulatorPort = await freePort();
    const emu = runNode(EMULATOR_MAIN, {
      EMULATOR_PORT: String(emulatorPort),
      EMULATOR_APP_ID: APP_ID,
      EMULATOR_APP_SECRET: APP_SECRET,
      ...this.options.emulatorEnv,
    });
    this.emulator = { url: `http://127.0.0.1:${emulatorPort}`, proc: emu };
    void emu.exited.then((code) => {
      if (!this.emulatorStopping) this.crashes.push(`emulator exited (code ${code}):\n${emu.output().slice(-3000)}`);
    });
    await until('emulator up', () => httpReady(`${this.emulator.url}/_emulator/health`), 30_000, 100, () => emu.child.exitCode === null);

    this.serviceEnv = {
      ...SERVICE_DEFAULTS,
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: this.topic,
      KAFKA_GROUP_ID: this.groupId,
      KAFKA_TOPIC_PARTITIONS: String(this.options.partitions),
      DATABASE_URL: this.dbUrl,
      FEISHU_BASE_URL: this.emulator.url,
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: APP_SECRET,
      AUDIT_API_TOKENS: AUDIT_TOKEN,
      ...this.options.serviceEnv,
    };
    for (let i = 0; i < this.options.replicas; i++) this.replicas.push(new Replica(`replica-${i}`, this.serviceEnv, (w) => this.crashes.push(w)));
    // All at once: they create the database and apply the migrations under an advisory lock, taking turns.
    await Promise.all(this.replicas.map((r) => r.start()));
    await Promise.all(this.replicas.map((r) => r.waitReady()));
  }

  /** A replica that answers, for the audit API. */
  api(): Replica {
    const r = this.replicas.find((x) => x.alive());
    if (!r) throw new Error('no replica alive');
    return r;
  }

  async audit<T = any>(p: string): Promise<{ status: number; body: T }> {
    const r = await fetch(`${this.api().url}${p}`, { headers: { authorization: `Bearer ${AUDIT_TOKEN}` } });
    return { status: r.status, body: (await r.json()) as T };
  }

  async emulatorGet<T = any>(p: string): Promise<T> {
    const r = await fetch(`${this.emulator.url}${p}`);
    if (!r.ok && r.status !== 404) throw new Error(`emulator ${p}: HTTP ${r.status}`);
    return (await r.json()) as T;
  }

  async emulatorPost<T = any>(p: string, body: unknown): Promise<T> {
    const r = await fetch(`${this.emulator.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`emulator ${p}: HTTP ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }

  /** The last lines each replica wrote, to explain a failure. */
  logTails(lines = 15): string {
    return this.replicas
      .map((r) => `--- ${r.name} (start #${r.starts}) ---\n${(r.proc?.output() ?? '').trimEnd().split('\n').slice(-lines).map((l) => l.slice(0, 600)).join('\n')}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    this.emulatorStopping = true;
    await Promise.all(this.replicas.map((r) => r.kill('SIGKILL')));
    await this.emulator?.proc.kill('SIGTERM');
    if (this.topic) await deleteTopics(this.topic, `${this.topic}.dlq`).catch(() => undefined);
    if (this.dbName) await dropDatabase(this.dbName).catch(() => undefined);
  }
}

/**
 * Publishes the ticks on schedule, like an upstream service would: every message is eventually acknowledged by
 * Kafka (acks=all), a send that fails while the broker is away is sent again (Kafka deduplicates nothing here;
 * a resent message is a duplicate, which the contract makes harmless). Large messages go in small sends.
 */
export async function publish(topic: string, ticks: OutMessage[][], tickMs: number, onTick?: (i: number) => void): Promise<{ sent: number; resends: number; endedAt: number }> {
  const kafka = new Kafka({ clientId: 'reliability-producer', brokers: BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 1000 } });
  let producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const t0 = Date.now();
  let sent = 0;
  let resends = 0;
  try {
    for (let i = 0; i < ticks.length; i++) {
      await sleep(t0 + i * tickMs - Date.now());
      for (const chunk of byBytes(ticks[i], 512 * 1024)) {
        const giveUpAt = Date.now() + 180_000;
        for (;;) {
          try {
            await producer.send({ topic, acks: -1, messages: chunk.map((m) => ({ key: m.key, value: m.value, headers: m.headers })) });
            break;
          } catch (e) {
            if (Date.now() > giveUpAt) throw e;
            resends++;
            await producer.disconnect().catch(() => undefined);
            await sleep(250);
            producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
            await producer.connect().catch(() => undefined);
          }
        }
        sent += chunk.length;
      }
      onTick?.(i);
    }
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return { sent, resends, endedAt: Date.now() };
}

function byBytes(messages: OutMessage[], max: number): OutMessage[][] {
  const out: OutMessage[][] = [];
  let cur: OutMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const n = (m.value?.length ?? 0) + 200;
    if (cur.length > 0 && bytes + n > max) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Stops the shared broker (controlled shutdown) and starts it again at once. Always leaves it started. */
export async function restartKafka(): Promise<{ downMs: number }> {
  const script = path.join(ROOT, 'scripts/kafka.sh');
  const t0 = Date.now();
  try {
    await exec('bash', [script, 'stop'], { cwd: ROOT, timeout: 120_000 });
  } finally {
    await exec('bash', [script, 'start'], { cwd: ROOT, timeout: 240_000 });
  }
  return { downMs: Date.now() - t0 };
}

function pgVersion(): string {
  return readdirSync('/etc/postgresql').sort((a, b) => Number(b) - Number(a))[0];
}

/** Restarts the machine's Postgres (fast shutdown: every session is cut). Always leaves it started. */
export async function restartPostgres(): Promise<{ downMs: number }> {
  const v = pgVersion();
  const t0 = Date.now();
  try {
    await exec('pg_ctlcluster', ['--skip-systemctl-redirect', '--mode', 'fast', v, 'main', 'restart'], { timeout: 120_000 });
  } finally {
    const { stdout } = await exec('pg_lsclusters', ['-h']);
    if (!/\bonline\b/.test(stdout)) await exec('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'start'], { timeout: 120_000 });
  }
  return { downMs: Date.now() - t0 };
}
