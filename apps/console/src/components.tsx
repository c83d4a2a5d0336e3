import type { ComponentChildren } from 'preact';
import { ApiError } from './api';
import type { Counts, SideCounts } from './types';

const FIELDS = [
  ['pc', 'web_app'],
  ['pc', 'gadget'],
  ['mobile', 'web_app'],
  ['mobile', 'gadget'],
] as const;

/** Desired next to applied, per side and field; a row that differs is marked in words as well as colour. */
export function CountsTable(props: { caption: string; desired: Counts; applied?: { pc: SideCounts | null; mobile: SideCounts | null } }) {
  const { desired, applied } = props;
  return (
    <div class="table-wrap">
      <table class="counts">
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Side</th>
            <th scope="col">Field</th>
            <th scope="col">Desired</th>
            {applied && <th scope="col">Applied</th>}
            {applied && <th scope="col">Match</th>}
          </tr>
        </thead>
        <tbody>
          {FIELDS.map(([side, field]) => {
            const d = desired[side][field];
            const a = applied ? applied[side]?.[field] : undefined;
            const differs = applied !== undefined && a !== d;
            return (
              <tr key={`${side}.${field}`} class={differs ? 'differs' : undefined} data-field={`${side}.${field}`}>
                <th scope="row">{side}</th>
                <td>{field}</td>
                <td class="num" data-col="desired">{d}</td>
                {applied && <td class="num" data-col="applied">{a === undefined || a === null ? 'unknown' : a}</td>}
                {applied && <td>{differs ? '≠ differs' : '= same'}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ErrorNote(props: { error: unknown; what?: string }) {
  const e = props.error;
  if (e instanceof ApiError) {
    return (
      <p class="error" role="alert">
        {props.what ? `${props.what}: ` : ''}
        {e.reasons.join('; ')} (HTTP {e.status}
        {e.correlationId ? `, request ${e.correlationId}` : ''})
      </p>
    );
  }
  return (
    <p class="error" role="alert">
      {props.what ? `${props.what}: ` : ''}
      {e instanceof Error ? e.message : String(e)}
    </p>
  );
}

export function Card(props: { title: string; children: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} aria-label={props.title}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function Field(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="kv">
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </div>
  );
}
