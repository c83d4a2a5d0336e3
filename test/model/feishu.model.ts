import type { HttpPostRequest, HttpPostResult, HttpTransport } from '@badges/feishu';
import { FEISHU_CODE } from '@badges/feishu';

/**
 * A strict in-memory Feishu app_badge/set, per user and side (pc, mobile): the counts shown and the highest version
 * accepted. A sent side whose version is not above the side's current one is a conflict (213001 pc, checked first,
 * then 213002 mobile) and nothing is applied; a version that is not an int64 is 213005; a second request for a user
 * while one is being processed is 213004, and is also recorded as a violation, because leases must prevent it.
 * Requests stay in flight until the test answers them, with a fault or naturally.
 */

export const INT64_MAX = 9223372036854775807n;

export type Side = 'pc' | 'mobile';
export const SIDES: readonly Side[] = ['pc', 'mobile'];

export interface SideCounts {
  web_app: number;
  gadget: number;
}

interface SideState {
  counts: SideCounts;
  version: bigint;
}

interface UserAtFeishu {
  pc: SideState | null;
  mobile: SideState | null;
  /** Every version accepted, per side, in the order accepted (the other writer's included). */
  accepted: Record<Side, bigint[]>;
  inFlight: InFlight | null;
}

export interface InFlight {
  readonly id: number;
  readonly replica: string;
  readonly userId: string;
  readonly version: string;
  readonly sent: Partial<Record<Side, SideCounts>>;
  answered: boolean;
  resolve(r: HttpPostResult): void;
}

/** What Feishu does with a request in flight; 'natural' is the strict model's own answer. */
export const FAULTS = [
  'natural',
  'concurrent-213004',
  'http-5xx',
  'applied-then-5xx',
  'timeout-applied',
  'timeout-lost',
  'rate-limited-429',
  'conflict-no-hint',
  'conflict-hint-actual',
  'conflict-hint-int64-max',
  'conflict-hint-20-digits',
  'user-invalid-213006',
  'user-invisible-213007',
] as const;
export type Fault = (typeof FAULTS)[number];

const TWENTY_DIGITS = '18446744073709551615';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpPostResult => ({
  kind: 'response',
  status,
  headers: { 'x-tt-logid': 'model-log', ...headers },
  json: body,
});

export class FeishuModel {
  private readonly users = new Map<string, UserAtFeishu>();
  private nextId = 1;
  private readonly waiting = new Map<string, (f: InFlight) => void>();
  /** Whether conflict answers name the latest version ("latest version: N"). A property of the run, not a fault. */
  hints = true;
  readonly violations: string[] = [];

  reset(hints: boolean): void {
    this.users.clear();
    this.waiting.clear();
    this.violations.length = 0;
    this.hints = hints;
  }

  user(userId: string): UserAtFeishu {
    let u = this.users.get(userId);
    if (!u) {
      u = { pc: null, mobile: null, accepted: { pc: [], mobile: [] }, inFlight: null };
      this.users.set(userId, u);
    }
    return u;
  }

  /** What the user sees on a side: a side never set shows 0. */
  shown(userId: string, side: Side): SideCounts {
    return this.user(userId)[side]?.counts ?? { web_app: 0, gadget: 0 };
  }

  allUsers(): [string, UserAtFeishu][] {
    return [...this.users.entries()];
  }

  /** The transport a replica's real FeishuBadgeClient posts through. */
  transport(replica: () => string): HttpTransport {
    return { postJson: (req) => this.receive(replica(), req) };
  }

  /** Resolves when the replica's next request reaches Feishu. */
  nextArrival(replica: string): Promise<InFlight> {
    return new Promise((resolve) => this.waiting.set(replica, resolve));
  }

  private receive(replica: string, req: HttpPostRequest): Promise<HttpPostResult> {
    const body = req.body as { user_id: string; version: string; pc?: SideCounts; mobile?: SideCounts };
    return new Promise((resolve) => {
      const sent: Partial<Record<Side, SideCounts>> = {};
      if (body.pc) sent.pc = { ...body.pc };
      if (body.mobile) sent.mobile = { ...body.mobile };
      const f: InFlight = { id: this.nextId++, replica, userId: body.user_id, version: body.version, sent, answered: false, resolve };
      const u = this.user(body.user_id);
      if (u.inFlight !== null) {
        this.violations.push(
          `two pushes in flight at Feishu for ${body.user_id}: version ${u.inFlight.version} from ${u.inFlight.replica} and ${body.version} from ${replica}`,
        );
        f.answered = true;
        resolve(json(400, { code: FEISHU_CODE.BADGE_CONCURRENT, msg: 'set same user data concurrently', data: {} }));
      } else {
        u.inFlight = f;
      }
      const w = this.waiting.get(replica);
      this.waiting.delete(replica);
      w?.(f);
    });
  }

  /** Answers a request in flight. */
  answer(f: InFlight, fault: Fault): void {
    if (f.answered) return;
    f.answered = true;
    const u = this.user(f.userId);
    if (u.inFlight === f) u.inFlight = null;
    const natural = () => this.apply(f, u);
    const conflict = (hint: string | null) => {
      const pc = f.sent.pc !== undefined;
      const text = `${pc ? 'pc' : 'mobile'} version conflict`;
      return json(400, {
        code: pc ? FEISHU_CODE.BADGE_PC_VERSION_CONFLICT : FEISHU_CODE.BADGE_MOBILE_VERSION_CONFLICT,
        msg: hint === null ? text : `${text}, latest version: ${hint}`,
        data: {},
      });
    };
    const actual = () => String((f.sent.pc ? u.pc : u.mobile)?.version ?? f.version);
    let r: HttpPostResult;
    switch (fault) {
      case 'natural':
        r = natural();
        break;
      case 'concurrent-213004':
        r = json(400, { code: FEISHU_CODE.BADGE_CONCURRENT, msg: 'set same user data concurrently', data: {} });
        break;
      case 'http-5xx':
        r = json(503, { code: 1500, msg: 'service unavailable' });
        break;
      case 'applied-then-5xx':
        natural();
        r = json(502, null);
        break;
      case 'timeout-applied':
        natural();
        r = { kind: 'network_error', reason: 'timeout', message: 'TimeoutError' };
        break;
      case 'timeout-lost':
        r = { kind: 'network_error', reason: 'timeout', message: 'TimeoutError' };
        break;
      case 'rate-limited-429':
        r = json(429, { code: FEISHU_CODE.RATE_LIMITED, msg: 'too many requests' }, { 'x-ogw-ratelimit-reset': '1' });
        break;
      case 'conflict-no-hint':
        r = conflict(null);
        break;
      case 'conflict-hint-actual':
        r = conflict(actual());
        break;
      case 'conflict-hint-int64-max':
        r = conflict(String(INT64_MAX));
        break;
      case 'conflict-hint-20-digits':
        r = conflict(TWENTY_DIGITS);
        break;
      case 'user-invalid-213006':
        r = json(400, { code: FEISHU_CODE.BADGE_USER_INVALID, msg: 'user status not valid', data: {} });
        break;
      case 'user-invisible-213007':
        r = json(400, { code: FEISHU_CODE.BADGE_USER_INVISIBLE, msg: 'user is invisible', data: {} });
        break;
    }
    f.resolve(r);
  }

  private apply(f: InFlight, u: UserAtFeishu): HttpPostResult {
    if (!/^\d{1,19}$/.test(f.version) || BigInt(f.version) > INT64_MAX) {
      return json(400, { code: FEISHU_CODE.BADGE_INVALID_VERSION, msg: 'invalid version', data: {} });
    }
    const v = BigInt(f.version);
    for (const side of SIDES) {
      const cur = u[side];
      if (f.sent[side] !== undefined && cur !== null && v <= cur.version) {
        const text = `${side} version conflict`;
        return json(400, {
          code: side === 'pc' ? FEISHU_CODE.BADGE_PC_VERSION_CONFLICT : FEISHU_CODE.BADGE_MOBILE_VERSION_CONFLICT,
          msg: this.hints ? `${text}, latest version: ${cur.version}` : text,
          data: {},
        });
      }
    }
    for (const side of SIDES) {
      const counts = f.sent[side];
      if (counts === undefined) continue;
      u[side] = { counts: { ...counts }, version: v };
      u.accepted[side].push(v);
    }
    return json(200, { code: 0, msg: 'success', data: {} });
  }

  /** Another writer (another deployment, a script) sets a version, keeping the counts shown; refused if not above. */
  otherWriter(userId: string, sides: readonly Side[], version: bigint): void {
    const u = this.user(userId);
    if (sides.some((s) => u[s] !== null && version <= u[s]!.version)) return;
    for (const s of sides) {
      u[s] = { counts: { ...this.shown(userId, s) }, version };
      u.accepted[s].push(version);
    }
  }

  /** Violations of Feishu's own rules as the model records them. */
  check(): string[] {
    const out = [...this.violations];
    for (const [userId, u] of this.users) {
      for (const s of SIDES) {
        const a = u.accepted[s];
        for (let i = 1; i < a.length; i++) {
          if (a[i] <= a[i - 1]) out.push(`${userId} ${s}: accepted version ${a[i]} after ${a[i - 1]}`);
        }
      }
    }
    return out;
  }
}
