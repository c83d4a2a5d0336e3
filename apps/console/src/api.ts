const TOKEN_KEY = 'badge-console.audit-token';

/** The audit token lives in this tab's session storage only: never in a URL, a cookie or local storage. */
export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reasons: string[],
    readonly correlationId: string | null,
  ) {
    super(reasons.join('; ') || `HTTP ${status}`);
  }
}

type Unauthorized = () => void;
let onUnauthorized: Unauthorized = () => undefined;
export const whenUnauthorized = (f: Unauthorized) => {
  onUnauthorized = f;
};

/** Calls the audit API under /v1 with the bearer token; a 401 signs the tab out. */
export async function api<T>(path: string, init: RequestInit & { token?: string } = {}): Promise<T> {
  const { token = session.token() ?? '', ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set('Authorization', `Bearer ${token}`);
  headers.set('Accept', 'application/json');
  const res = await fetch(`/v1${path}`, { ...rest, headers, credentials: 'omit', cache: 'no-store' });
  const text = await res.text();
  const body = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const message = (body as { message?: string | string[] } | undefined)?.message;
    const reasons = Array.isArray(message) ? message : message ? [message] : [res.statusText];
    const err = new ApiError(res.status, reasons, res.headers.get('x-request-id'));
    if (res.status === 401 && init.token === undefined) onUnauthorized();
    throw err;
  }
  return body as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
