import type { Counts } from './types';

export const when = (iso: string | null | undefined): string => {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
};

export const age = (seconds: number | null): string => {
  if (seconds === null) return 'none';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
};

export const statusLabel: Record<string, string> = { pending: 'pending', in_sync: 'in sync', backing_off: 'backing off', parked: 'parked' };

export const countsText = (c: Partial<Counts> | undefined): string =>
  c
    ? (['pc', 'mobile'] as const)
        .filter((s) => c[s])
        .map((s) => `${s} ${c[s]!.web_app}/${c[s]!.gadget}`)
        .join(', ')
    : '';

/** A datetime-local value (the browser's zone) as an ISO instant. */
export function localToIso(v: string): string | null {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function isoToLocal(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
