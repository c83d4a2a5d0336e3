import { useEffect, useState } from 'preact/hooks';
import { api, query } from './api';
import { ErrorNote } from './components';
import { statusLabel, when } from './format';
import { BASE, navigate, onLink, userPath } from './router';
import type { ListItem, Page, Stats } from './types';

const STATUSES = ['pending', 'backing_off', 'parked'] as const;
const PAGE = 50;

function reasonOf(i: ListItem): string {
  return i.lastError ? `${i.lastError.code ?? 'no code'}: ${i.lastError.message ?? 'no message'}` : 'no reason recorded';
}

export function ListsPage(props: { status: string }) {
  const status = (STATUSES as readonly string[]).includes(props.status) ? props.status : 'parked';
  const [counts, setCounts] = useState<Stats['users'] | null>(null);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Page<ListItem> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    api<Stats>('/stats').then((s) => setCounts(s.users), setError);
  }, [status]);
  useEffect(() => setCursors([undefined]), [status]);
  useEffect(() => {
    setPage(null);
    api<Page<ListItem>>(`/badges${query({ status, limit: PAGE, cursor })}`).then((p) => (setPage(p), setError(null)), setError);
  }, [status, cursor]);

  const groups = new Map<string, ListItem[]>();
  if (status === 'parked' && page) for (const i of page.items) groups.set(reasonOf(i), [...(groups.get(reasonOf(i)) ?? []), i]);

  return (
    <>
      <h1>Users by status</h1>
      <nav aria-label="Statuses" class="tabs">
        <ul>
          {STATUSES.map((s) => (
            <li key={s}>
              <a href={`${BASE}/lists?status=${s}`} onClick={onLink} aria-current={s === status ? 'page' : undefined}>
                {statusLabel[s]} <span class="count">{counts ? counts[s] : '…'}</span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {error !== null && <ErrorNote error={error} what="Could not load the list" />}
      {!page ? (
        <p role="status">Loading…</p>
      ) : page.items.length === 0 ? (
        <p>No {statusLabel[status]} users.</p>
      ) : status === 'parked' ? (
        [...groups].map(([reason, items]) => (
          <section key={reason} aria-label={`Parked: ${reason}`} class="group">
            <h2>
              {reason} <span class="count">{items.length}</span>
            </h2>
            <UserTable items={items} />
          </section>
        ))
      ) : (
        <UserTable items={page.items} />
      )}
      <div class="pager">
        <button type="button" class="secondary" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" class="secondary" disabled={!page?.nextCursor} onClick={() => page?.nextCursor && setCursors((c) => [...c, page.nextCursor!])}>
          Next page
        </button>
      </div>
      {status === 'parked' && <p class="small">Grouped by reason within this page of {PAGE}.</p>}
    </>
  );
}

function UserTable(props: { items: ListItem[] }) {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Tenant</th>
            <th scope="col">ID type</th>
            <th scope="col">Changed</th>
            <th scope="col">Next attempt</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((i) => {
            const href = userPath(i.userId, i.tenantKey, i.userIdType);
            return (
              <tr key={href}>
                <th scope="row">
                  <a href={href} onClick={(e) => (e.preventDefault(), navigate(href))} class="mono">
                    {i.userId}
                  </a>
                </th>
                <td>{i.tenantKey || '—'}</td>
                <td>{i.userIdType}</td>
                <td>{when(i.desiredChangedAt)}</td>
                <td>{i.status === 'parked' ? '—' : when(i.nextAttemptAt)}</td>
                <td class="num">{i.attempts}</td>
                <td>{i.lastError ? reasonOf(i) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
