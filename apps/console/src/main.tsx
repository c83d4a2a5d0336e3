import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, session, whenUnauthorized } from './api';
import { FindUser } from './find';
import { HealthPage } from './health';
import { ListsPage } from './lists';
import { BASE, navigate, onLink, useLocation } from './router';
import type { Stats } from './types';
import { UserPage } from './user';

function SignIn(props: { notice: string | null; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const candidate = token.trim();
    if (!candidate) return setError('Enter an audit token.');
    setBusy(true);
    setError(null);
    try {
      await api<Stats>('/stats', { token: candidate });
      session.signIn(candidate);
      props.onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('That audit token was refused (401 Unauthorized): check it and try again.');
      else if (err instanceof ApiError && err.status === 403) setError('That token may not read the audit API (403: it lacks the read scope).');
      else setError(`Could not sign in: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Badge console</h1>
      <p>Sign in with an audit API token. It is kept for this browser tab only and sent as the bearer header.</p>
      {props.notice && <p class="notice" role="status">{props.notice}</p>}
      <form onSubmit={submit}>
        <label for="audit-token">Audit token</label>
        <input id="audit-token" type="password" autocomplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}

function Nav(props: { path: string; onSignOut: () => void }) {
  const links: [string, string][] = [
    [BASE, 'Find a user'],
    [`${BASE}/lists`, 'Lists'],
    [`${BASE}/health`, 'Health'],
  ];
  return (
    <header class="top">
      <a class="brand" href={BASE} onClick={onLink}>
        Badge console
      </a>
      <nav aria-label="Main">
        <ul>
          {links.map(([href, label]) => (
            <li key={href}>
              <a href={href} onClick={onLink} aria-current={props.path === href ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <button type="button" class="secondary" onClick={props.onSignOut}>
        Sign out
      </button>
    </header>
  );
}

function App() {
  const loc = useLocation();
  const [signedIn, setSignedIn] = useState(session.token() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(
    () =>
      whenUnauthorized(() => {
        session.signOut();
        setNotice('The audit token was refused (401): sign in again.');
        setSignedIn(false);
      }),
    [],
  );
  if (!signedIn) return <SignIn notice={notice} onSignedIn={() => (setNotice(null), setSignedIn(true))} />;
  const signOut = () => {
    session.signOut();
    setNotice('Signed out.');
    setSignedIn(false);
    navigate(BASE);
  };
  const user = /^\/console\/users\/(.+)$/.exec(loc.path);
  let page;
  if (user) {
    page = (
      <UserPage
        key={loc.path + loc.search}
        userId={decodeURIComponent(user[1])}
        tenantKey={loc.search.get('tenantKey') ?? ''}
        userIdType={loc.search.get('userIdType') ?? 'open_id'}
      />
    );
  } else if (loc.path === `${BASE}/lists`) page = <ListsPage status={loc.search.get('status') ?? 'parked'} />;
  else if (loc.path === `${BASE}/health`) page = <HealthPage />;
  else page = <FindUser />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav path={loc.path} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
