import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, query } from './api';
import { Card, CountsTable, ErrorNote, Field } from './components';
import { countsText, isoToLocal, localToIso, statusLabel, when } from './format';
import type { Badge, BadgeAt, HistoryItem, Page, ResyncAccepted } from './types';

interface Props {
  userId: string;
  tenantKey: string;
  userIdType: string;
}

export function UserPage(props: Props) {
  const identity = query({ tenantKey: props.tenantKey, userIdType: props.userIdType });
  const path = `/badges/${encodeURIComponent(props.userId)}`;
  const [badge, setBadge] = useState<Badge | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [atTime, setAtTime] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setBadge(await api<Badge>(path + identity));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [path, identity]);
  useEffect(() => void load(), [load]);

  if (error) {
    const unknown = error instanceof ApiError && error.status === 404;
    return (
      <>
        <h1>User {props.userId}</h1>
        {unknown ? (
          <p class="error" role="alert">
            No badge for user {props.userId} ({props.userIdType}
            {props.tenantKey ? `, tenant ${props.tenantKey}` : ''}): unknown here, or of a tenant this token may not see.
          </p>
        ) : (
          <ErrorNote error={error} what="Could not load the badge" />
        )}
      </>
    );
  }
  if (!badge) return <p role="status">Loading {props.userId}…</p>;

  const parkedOrBacking = badge.status === 'parked' || badge.status === 'backing_off';
  return (
    <>
      <h1>
        User <span class="mono">{badge.userId}</span>
      </h1>
      <p class="sub">
        {badge.userIdType}
        {badge.tenantKey ? ` · tenant ${badge.tenantKey}` : ' · custom app'}
      </p>
      <div class="grid">
        <Card title="State">
          <dl>
            <Field label="In sync">
              <span class={badge.inSync ? 'pill ok' : 'pill warn'} data-testid="in-sync">
                {badge.inSync ? 'yes' : 'no'}
              </span>
            </Field>
            <Field label="Status">
              <span class={`pill status-${badge.status}`} data-testid="status">
                {statusLabel[badge.status] ?? badge.status}
              </span>
            </Field>
            {parkedOrBacking && (
              <Field label="Reason">
                <span data-testid="reason">
                  {badge.lastError ? `${badge.lastError.code ?? 'no code'}: ${badge.lastError.message ?? ''}` : 'unknown'}
                </span>
              </Field>
            )}
            <Field label="Next attempt">{badge.status === 'parked' ? 'none until its badge changes or a resync' : when(badge.nextAttemptAt)}</Field>
            <Field label="Attempts">{badge.attempts}</Field>
            <Field label="Last version">{badge.lastVersion}</Field>
            <Field label="Last pushed">{when(badge.lastPushedAt)}</Field>
            <Field label="Desired changed">{when(badge.desiredChangedAt)}</Field>
          </dl>
        </Card>
        <Card title="Last error">
          {badge.lastError ? (
            <dl data-testid="last-error">
              <Field label="Feishu code">{badge.lastError.code ?? '—'}</Field>
              <Field label="Message">{badge.lastError.message ?? '—'}</Field>
              <Field label="Log id">
                <span class="mono">{badge.lastError.logId ?? '—'}</span>
              </Field>
              <Field label="At">{when(badge.lastError.at)}</Field>
            </dl>
          ) : (
            <p>None.</p>
          )}
        </Card>
        <Card title="Counts" class="wide">
          <CountsTable caption="Desired (sum over sources) and applied (what Feishu last accepted)" desired={badge.desired} applied={badge.applied} />
          <p class={badge.appliedEqualsDesired ? 'ok-text' : 'warn-text'} data-testid="equality">
            {badge.appliedEqualsDesired ? 'Applied equals desired on both sides.' : 'Applied differs from desired (highlighted).'}
          </p>
        </Card>
        <Resync path={path + '/resync' + identity} onDone={load} />
      </div>
      <Sources badge={badge} />
      <BadgeAtMoment path={path} identity={props} at={atTime} onPick={setAtTime} />
      <Timeline path={path + '/history'} identity={identity} onPick={setAtTime} />
    </>
  );
}

function Resync(props: { path: string; onDone: () => void }) {
  const [stage, setStage] = useState<'idle' | 'confirm' | 'busy'>('idle');
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (stage === 'confirm') confirmRef.current?.focus();
  }, [stage]);
  const run = async () => {
    setStage('busy');
    try {
      const r = await api<ResyncAccepted>(props.path, { method: 'POST' });
      setResult({ ok: true, text: `Resync accepted: the user is ${statusLabel[r.status] ?? r.status} (revision ${r.desiredRevision}); both sides will be pushed now.` });
      props.onDone();
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        setResult({ ok: false, text: 'This token may not resync: it lacks the resync scope. Nothing was changed; ask for a token with resync rights.' });
      } else setResult({ ok: false, text: `Resync failed: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      setStage('idle');
    }
  };
  return (
    <Card title="Resync">
      <p>Pushes this user's desired badge to Feishu now, both sides, and un-parks it. Recorded in the history with your token's name.</p>
      {stage === 'idle' && (
        <button type="button" onClick={() => (setResult(null), setStage('confirm'))}>
          Resync
        </button>
      )}
      {stage !== 'idle' && (
        <div class="confirm" role="group" aria-label="Confirm resync">
          <p>Push both sides for this user now?</p>
          <button type="button" ref={confirmRef} onClick={run} disabled={stage === 'busy'}>
            Confirm resync
          </button>
          <button type="button" class="secondary" onClick={() => setStage('idle')} disabled={stage === 'busy'}>
            Cancel
          </button>
        </div>
      )}
      <p role="status" class={result ? (result.ok ? 'ok-text' : 'warn-text') : undefined} data-testid="resync-result">
        {result?.text ?? ''}
      </p>
    </Card>
  );
}

function Sources(props: { badge: Badge }) {
  const { badge } = props;
  return (
    <section aria-labelledby="sources-h">
      <h2 id="sources-h">Sources ({badge.sources.length}{badge.sourcesNextCursor ? '+' : ''})</h2>
      {badge.sources.length === 0 ? (
        <p>No sources stored.</p>
      ) : (
        <div class="table-wrap">
          <table class="sources">
            <caption class="visually-hidden">Each source's latest counts</caption>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">pc web_app</th>
                <th scope="col">pc gadget</th>
                <th scope="col">mobile web_app</th>
                <th scope="col">mobile gadget</th>
                <th scope="col">Sequence</th>
                <th scope="col">Event id</th>
                <th scope="col">Occurred</th>
                <th scope="col">Stored</th>
              </tr>
            </thead>
            <tbody>
              {badge.sources.map((s) => (
                <tr key={s.source}>
                  <th scope="row">{s.source}</th>
                  <td class="num">{s.counts.pc.web_app}</td>
                  <td class="num">{s.counts.pc.gadget}</td>
                  <td class="num">{s.counts.mobile.web_app}</td>
                  <td class="num">{s.counts.mobile.gadget}</td>
                  <td class="num">{s.sequence}</td>
                  <td class="mono">{s.eventId}</td>
                  <td>{when(s.occurredAt)}</td>
                  <td>{when(s.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {badge.sourcesNextCursor && <p>More sources than shown: see GET /v1/badges/{'{userId}'}/sources.</p>}
    </section>
  );
}

function BadgeAtMoment(props: { path: string; identity: Props; at: string | null; onPick: (at: string) => void }) {
  const [local, setLocal] = useState('');
  const [then, setThen] = useState<BadgeAt | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [formError, setFormError] = useState<string | null>(null);
  useEffect(() => {
    if (props.at === null) return;
    setLocal(isoToLocal(props.at));
    let live = true;
    api<BadgeAt>(props.path + query({ tenantKey: props.identity.tenantKey, userIdType: props.identity.userIdType, at: props.at }))
      .then((b) => live && (setThen(b), setError(null)))
      .catch((e) => live && (setThen(null), setError(e)));
    return () => {
      live = false;
    };
  }, [props.at]);
  const submit = (e: Event) => {
    e.preventDefault();
    const iso = localToIso(local);
    if (!iso) return setFormError('Pick a date and time.');
    setFormError(null);
    props.onPick(iso);
  };
  return (
    <section aria-labelledby="at-h" id="badge-at">
      <h2 id="at-h">The badge at a moment</h2>
      <p>Pick a time, or choose "Badge then" on a timeline entry, to see each source's counts and their sum as they stood.</p>
      <form class="inline" onSubmit={submit}>
        <label for="at-input">Moment (your local time)</label>
        <input id="at-input" type="datetime-local" step="1" value={local} onInput={(e) => setLocal(e.currentTarget.value)} />
        <button type="submit">Show the badge then</button>
      </form>
      {formError && (
        <p class="error" role="alert">
          {formError}
        </p>
      )}
      {error !== null && <ErrorNote error={error} what="Could not show the badge then" />}
      {then && (
        <div data-testid="badge-at" aria-live="polite">
          <h3>
            At <time dateTime={then.at}>{when(then.at)}</time> <span class="mono small">({then.at})</span>
          </h3>
          <CountsTable caption="Desired then: the sum over the sources below" desired={then.desired} />
          {then.sources.length === 0 ? (
            <p>No source was stored then.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>Per source then</caption>
                <thead>
                  <tr>
                    <th scope="col">Source</th>
                    <th scope="col">Counts (web_app/gadget)</th>
                    <th scope="col">Sequence</th>
                    <th scope="col">Changed</th>
                  </tr>
                </thead>
                <tbody>
                  {then.sources.map((s) => (
                    <tr key={s.source}>
                      <th scope="row">{s.source}</th>
                      <td>{countsText(s.counts)}</td>
                      <td class="num">{s.sequence ?? '—'}</td>
                      <td>{when(s.changedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function describe(i: HistoryItem): string {
  const parts: string[] = [];
  if (i.kind === 'push') {
    parts.push(`version ${i.version ?? '?'}`);
    if (i.new) parts.push(`sent ${Object.keys(i.new).join(' + ') || 'nothing'} (${countsText(i.new)})`);
    if (i.outcome) parts.push(`outcome ${i.outcome}`);
    if (i.code !== undefined) parts.push(`code ${i.code}`);
    if (i.httpStatus !== undefined) parts.push(`HTTP ${i.httpStatus}`);
    if (i.latencyMs !== undefined) parts.push(`${i.latencyMs} ms`);
    if (i.logId) parts.push(`log id ${i.logId}`);
  } else {
    if (i.source) parts.push(`source ${i.source}`);
    if (i.sequence !== undefined) parts.push(`sequence ${i.sequence}`);
    if (i.old) parts.push(`${countsText(i.old)} →`);
    if (i.new && i.kind === 'change') parts.push(countsText(i.new));
    if (i.eventId) parts.push(`event ${i.eventId}`);
  }
  if (i.detail) parts.push(i.detail);
  return parts.join(' · ');
}

function Timeline(props: { path: string; identity: string; onPick: (at: string) => void }) {
  const [items, setItems] = useState<HistoryItem[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const busyRef = useRef(false);

  const more = useCallback(
    async (from: string | null | undefined) => {
      if (busyRef.current || from === null) return;
      busyRef.current = true;
      setBusy(true);
      try {
        const sep = props.identity ? '&' : '?';
        const page = await api<Page<HistoryItem>>(props.path + props.identity + (from ? `${sep}cursor=${encodeURIComponent(from)}` : ''));
        setItems((xs) => (from ? [...xs, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setError(null);
      } catch (e) {
        setError(e);
      } finally {
        busyRef.current = false;
        setBusy(false);
      }
    },
    [props.path, props.identity],
  );
  useEffect(() => void more(undefined), [more]);
  // Older entries load as the end of the list scrolls into view (the button does the same from the keyboard).
  useEffect(() => {
    const el = sentinel.current;
    if (!el || cursor === null || cursor === undefined) return;
    const io = new IntersectionObserver((es) => es.some((x) => x.isIntersecting) && void more(cursor), { rootMargin: '200px' });
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, more]);

  return (
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline (newest first)</h2>
      <ol class="timeline" data-testid="timeline">
        {items.map((i, n) => (
          <li key={`${n}-${i.at}`} class={`entry kind-${i.kind} ${i.outcome && i.outcome !== 'applied' ? 'failed' : ''}`}>
            <time dateTime={i.at}>{when(i.at)}</time>
            <span class={`pill kind`}>{i.kind}</span>
            <span class="what">{describe(i)}</span>
            <button type="button" class="link" onClick={() => (props.onPick(i.at), document.getElementById('badge-at')?.scrollIntoView())} aria-label={`Badge then: ${i.kind} at ${i.at}`}>
              Badge then
            </button>
          </li>
        ))}
      </ol>
      {error !== null && <ErrorNote error={error} what="Could not load the timeline" />}
      <div ref={sentinel} class="sentinel" />
      {cursor ? (
        <button type="button" class="secondary" onClick={() => void more(cursor)} disabled={busy}>
          {busy ? 'Loading…' : 'Load older entries'}
        </button>
      ) : cursor === null ? (
        <p class="end" data-testid="timeline-end">
          {items.length === 0 ? 'No history kept for this user.' : 'End of the history kept.'}
        </p>
      ) : null}
    </section>
  );
}
