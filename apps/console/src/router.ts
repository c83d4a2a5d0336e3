import { useEffect, useState } from 'preact/hooks';

export const BASE = '/console';

export interface Location {
  path: string;
  search: URLSearchParams;
}

const read = (): Location => ({ path: location.pathname.replace(/\/+$/, '') || BASE, search: new URLSearchParams(location.search) });
const listeners = new Set<() => void>();

export function navigate(to: string): void {
  history.pushState(null, '', to);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const update = () => setLoc(read());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return loc;
}

export function userPath(userId: string, tenantKey: string, userIdType: string): string {
  const q = new URLSearchParams();
  q.set('tenantKey', tenantKey);
  q.set('userIdType', userIdType);
  return `${BASE}/users/${encodeURIComponent(userId)}?${q}`;
}

/** An in-app link: a real href (open in a new tab works), navigation without a reload. */
export function onLink(e: MouseEvent): void {
  const a = e.currentTarget as HTMLAnchorElement;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? BASE);
}
