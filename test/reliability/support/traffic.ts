import { Counts, MAX_COUNT, MAX_SEQUENCE, sumCounts } from '@badges/contracts';
import type { UserIdType } from '@badges/store';
import type { OutMessage } from '../../support/kafka';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with RELIABILITY_SEED. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
    shuffle<T>(xs: T[]): T[] {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [xs[i], xs[j]] = [xs[j], xs[i]];
      }
      return xs;
    },
  };
}

export interface Rng {
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
  shuffle<T>(xs: T[]): T[];
}

export type { UserIdType };

export interface TrafficUser {
  userId: string;
  userIdType: UserIdType;
}

export interface TrafficOptions {
  /** Prefix of every user id, unique per scenario. */
  prefix: string;
  users: number;
  /** How long the stream lasts and how often a tick of messages goes out. */
  durationMs: number;
  tickMs: number;
  /** Share of events delivered twice (a second copy later in the stream). */
  duplicateRate: number;
  /** Bursts: this many moments where a hot set of users gets many rapid updates. */
  bursts: number;
  seed: number;
}

interface PlannedMessage {
  at: number;
  message: OutMessage;
}

const SOURCES = ['approval', 'task', 'inbox', 'ticket', 'calendar.reminder', 'mail-digest', 'okr_2026'] as const;

/**
 * Realistic unread-count traffic: many users with several sources each, every source publishing absolute counts
 * with increasing (gapped) sequences; delivered out of order, partly duplicated, with bursts on hot users. Knows
 * the badge every user must end with: per side and field, the sum over sources of the highest-sequence counts.
 */
export class Traffic {
  readonly users: TrafficUser[] = [];
  /** key(user) -> source -> { highest sequence, its counts }. */
  private readonly latest = new Map<string, Map<string, { sequence: number; counts: Counts }>>();
  private readonly planned: PlannedMessage[] = [];
  private readonly next = new Map<string, number>();
  private readonly r: Rng;
  events = 0;
  duplicates = 0;

  constructor(readonly options: TrafficOptions) {
    this.r = rng(options.seed);
    const r = this.r;
    for (let i = 0; i < options.users; i++) {
      const userIdType: UserIdType = r.chance(0.8) ? 'open_id' : r.chance(0.5) ? 'union_id' : 'user_id';
      const hex = (i * 2654435761 >>> 0).toString(16).padStart(8, '0');
      const prefix = userIdType === 'open_id' ? 'ou_' : userIdType === 'union_id' ? 'on_' : '';
      this.users.push({ userId: `${prefix}${options.prefix}_${hex}_${i}`, userIdType });
    }
    for (const u of this.users) {
      const sources = r.shuffle([...SOURCES]).slice(0, r.int(1, 4));
      for (const source of sources) {
        const updates = r.int(1, 6);
        for (let k = 0; k < updates; k++) {
          // Spread over the stream, with a jitter wide enough that a source's updates overtake each other.
          const at = ((k + r.next()) / updates) * 0.8 * options.durationMs + r.next() * 0.2 * options.durationMs;
          this.emit(u, source, Math.min(at, options.durationMs), k === updates - 1 && r.chance(0.15));
        }
      }
    }
    for (let b = 0; b < options.bursts; b++) {
      const at = r.next() * options.durationMs;
      const hot = r.shuffle([...this.users]).slice(0, Math.max(1, Math.ceil(options.users / 30)));
      for (const u of hot) {
        const source = r.pick(SOURCES);
        const n = r.int(5, 15);
        for (let k = 0; k < n; k++) this.emit(u, source, at + r.next() * 300, false);
      }
    }
  }

  private emit(u: TrafficUser, source: string, at: number, clear: boolean): void {
    const r = this.r;
    const key = `${userKey(u)}\u0000${source}`;
    let sequence = this.next.get(key);
    if (sequence === undefined) {
      // Producers use clocks, database ids or counters: some start near the top of the allowed range.
      sequence = r.chance(0.05) ? MAX_SEQUENCE - 10_000 + r.int(0, 1000) : r.chance(0.5) ? 1_700_000_000_000 + r.int(0, 1e9) : r.int(0, 1000);
    }
    this.next.set(key, Math.min(MAX_SEQUENCE, sequence + r.int(1, 50)));
    const big = () => (r.chance(0.02) ? MAX_COUNT - r.int(0, 10) : r.int(0, 40));
    const counts: Counts = clear
      ? { pc: { web_app: 0, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } }
      : { pc: { web_app: big(), gadget: r.int(0, 5) }, mobile: { web_app: big(), gadget: r.int(0, 5) } };
    const body: Record<string, unknown> = {
      eventId: `${source}:${u.userId}:${sequence}`,
      userId: u.userId,
      ...(u.userIdType === 'open_id' && r.chance(0.5) ? {} : { userIdType: u.userIdType }),
      source,
      sequence,
      counts: sparse(counts, r),
      occurredAt: new Date(Date.UTC(2026, 10, 24, 8) + sequence % 86_400_000).toISOString(),
    };
    const message: OutMessage = { key: u.userId, value: JSON.stringify(body), headers: { 'x-producer': source } };
    this.planned.push({ at, message });
    this.events++;
    if (r.chance(this.options.duplicateRate)) {
      this.planned.push({ at: Math.min(this.options.durationMs, at + r.next() * 0.3 * this.options.durationMs), message });
      this.duplicates++;
    }
    const perSource = this.latest.get(userKey(u)) ?? new Map();
    this.latest.set(userKey(u), perSource);
    const cur = perSource.get(source);
    if (!cur || sequence > cur.sequence) perSource.set(source, { sequence, counts });
  }

  /** Mixes other messages (hostile ones) into the stream at random moments. */
  mix(messages: readonly OutMessage[]): void {
    for (const m of messages) this.planned.push({ at: this.r.next() * this.options.durationMs, message: m });
  }

  /** The stream cut into ticks (sorted by delivery time). */
  ticks(): OutMessage[][] {
    const n = Math.ceil(this.options.durationMs / this.options.tickMs) + 1;
    const ticks: OutMessage[][] = Array.from({ length: n }, () => []);
    for (const p of [...this.planned].sort((a, b) => a.at - b.at)) ticks[Math.min(n - 1, Math.floor(p.at / this.options.tickMs))].push(p.message);
    return ticks;
  }

  get messages(): number {
    return this.planned.length;
  }

  expected(u: TrafficUser): Counts {
    return sumCounts([...(this.latest.get(userKey(u))?.values() ?? [])].map((x) => x.counts));
  }

  /** source -> highest sequence the generator produced. */
  highest(u: TrafficUser): Map<string, number> {
    return new Map([...(this.latest.get(userKey(u)) ?? new Map()).entries()].map(([s, x]) => [s, x.sequence]));
  }

  sourceCount(): number {
    let n = 0;
    for (const m of this.latest.values()) n += m.size;
    return n;
  }
}

export const userKey = (u: { userIdType: string; userId: string }) => `${u.userIdType}/${u.userId}`;

/** A missing side or field is 0: producers leave zeros out now and then. */
function sparse(c: Counts, r: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const side of ['pc', 'mobile'] as const) {
    const s = c[side];
    if (s.web_app === 0 && s.gadget === 0 && r.chance(0.5)) continue;
    const o: Record<string, number> = {};
    if (s.web_app !== 0 || r.chance(0.5)) o.web_app = s.web_app;
    if (s.gadget !== 0 || r.chance(0.5)) o.gadget = s.gadget;
    out[side] = o;
  }
  return out;
}
