import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { httpReady, runNode, SERVICE_MAIN, watch, WatchedProcess } from '../support/service';
import { APP_ID } from '../support/stack';

export interface ServiceOptions {
  databaseUrl: string;
  topic: string;
  groupId: string;
  emulatorUrl: string;
  appSecret: string;
  auditTokens: string[];
  env?: Record<string, string>;
  /** Waited on before resolving; /health/ready unless told (a replica that cannot get a token is never ready). */
  readyPath?: string;
  /** Receives the process as soon as it is spawned, so a caller can stop it even if it never becomes ready. */
  track: WatchedProcess[];
}

/** The built badge service as a process (all roles unless told otherwise), its output kept; resolves once ready. */
export async function startWatchedService(o: ServiceOptions): Promise<WatchedProcess> {
  const port = await freePort();
  const p = watch(
    runNode(SERVICE_MAIN, {
      BADGE_ROLES: 'ingest,reconcile,api',
      KAFKA_TOPIC: o.topic,
      KAFKA_GROUP_ID: o.groupId,
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      DATABASE_URL: o.databaseUrl,
      FEISHU_BASE_URL: o.emulatorUrl,
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: o.appSecret,
      AUDIT_API_TOKENS: o.auditTokens.join(','),
      FEISHU_RATE_LIMIT: '200',
      FEISHU_TIMEOUT_MS: '2000',
      RECONCILE_POLL_MS: '200',
      PUSH_MIN_INTERVAL_MS: '0',
      BACKOFF_BASE_MS: '50',
      BACKOFF_MAX_MS: '500',
      CONFLICT_RETRY_MS: '20',
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      ...o.env,
    }),
    `http://127.0.0.1:${port}`,
  );
  o.track.push(p);
  const readyPath = o.readyPath ?? '/health/ready';
  const state = await waitFor(
    `service ${readyPath}`,
    async () => (p.process.child.exitCode !== null ? 'exited' : (await httpReady(`${p.url}${readyPath}`)) && 'up'),
    60_000,
    200,
  );
  if (state === 'exited') throw new Error(`service exited before ${readyPath} answered:\n${p.output().slice(-3000)}`);
  return p;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  text: string;
  samples: Sample[];
  /** Metric name → type, from the `# TYPE` lines. */
  types: Map<string, string>;
  /** Sum of every sample of `name` whose labels include `match`; 0 when there is none. */
  sum(name: string, match?: Record<string, string>): number;
  has(name: string, match?: Record<string, string>): boolean;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;

/** Prometheus text format, one regex per line. */
export function parseMetrics(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = TYPE.exec(line);
    if (t) types.set(t[1], t[2]);
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const matching = (name: string, match: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return {
    text,
    samples,
    types,
    sum: (name, match) => matching(name, match).reduce((n, s) => n + s.value, 0),
    has: (name, match) => matching(name, match).length > 0,
  };
}

export async function scrape(serviceUrl: string): Promise<Scrape> {
  const r = await fetch(`${serviceUrl}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return parseMetrics(await r.text());
}
