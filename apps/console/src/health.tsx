import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query } from './api';
import { Card, ErrorNote, Field } from './components';
import { age, when } from './format';
import type { Series, Stats } from './types';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);

const OUTCOME_COLOURS: Record<string, string> = {
  applied: '#2e7d32',
  version_conflict: '#f9a825',
  concurrent: '#ef6c00',
  transient: '#c62828',
  rate_limited: '#6a1b9a',
  rejected: '#37474f',
  unknown: '#9e9e9e',
};
const colour = (o: string, i: number) => OUTCOME_COLOURS[o] ?? ['#1565c0', '#00838f', '#ad1457', '#4e342e'][i % 4];
const REFRESH_MS = 15_000;

export function HealthPage() {
  const [stats, setStats] = useState<Stats | null>(null);
  const [series, setSeries] = useState<Series | null>(null);
  const [hours, setHours] = useState(3);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      Promise.all([api<Stats>('/stats'), api<Series>(`/stats/series${query({ hours })}`)]).then(
        ([s, x]) => live && (setStats(s), setSeries(x), setError(null)),
        (e) => live && setError(e),
      );
    void load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [hours]);

  const total = series ? series.buckets.reduce((n, b) => n + Object.values(b.pushes).reduce((a, x) => a + x, 0), 0) : 0;
  return (
    <>
      <h1>Health at a glance</h1>
      {error !== null && <ErrorNote error={error} what="Could not load the figures" />}
      {stats && (
        <div class="grid">
          <Card title="Backlog">
            <dl>
              <Field label="Dirty users">
                <span data-testid="dirty">{stats.dirty}</span>
              </Field>
              <Field label="Oldest pending age">
                <span data-testid="oldest">{age(stats.oldestPendingAgeSeconds)}</span>
              </Field>
              <Field label="Users">{stats.users.total}</Field>
              <Field label="In sync / pending / backing off / parked">
                {stats.users.in_sync} / {stats.users.pending} / {stats.users.backing_off} / {stats.users.parked}
              </Field>
            </dl>
          </Card>
          <Card title="Consumer lag">
            {stats.consumerLag ? (
              <>
                <table class="lag">
                  <caption>Messages behind, by partition (measured {when(stats.consumerLag.measuredAt)})</caption>
                  <thead>
                    <tr>
                      <th scope="col">Partition</th>
                      <th scope="col">Lag</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(stats.consumerLag.partitions).map(([p, n]) => (
                      <tr key={p}>
                        <th scope="row">{p}</th>
                        <td class="num">{n}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <p>Total {stats.consumerLag.total}</p>
              </>
            ) : (
              <p>Not measured here: this process does not consume, has not measured yet, or the token sees only some tenants.</p>
            )}
          </Card>
        </div>
      )}
      <div class="inline">
        <label for="hours">Window</label>
        <select id="hours" value={String(hours)} onChange={(e) => setHours(Number(e.currentTarget.value))}>
          {[1, 3, 6, 12, 24].map((h) => (
            <option key={h} value={String(h)}>
              last {h} h
            </option>
          ))}
        </select>
      </div>
      {series && (
        <>
          <Card title="Pushes per minute, by outcome" class="chart-card">
            <p class="small" data-testid="pushes-total" data-minutes={series.buckets.length}>
              {total} push attempts from {when(series.from)} to {when(series.to)}
              {series.outcomes.length ? ` (${series.outcomes.join(', ')})` : ''}.
            </p>
            <PushesChart series={series} />
          </Card>
          <Card title="Event → applied latency per minute" class="chart-card">
            <p class="small">From the desired change being stored to Feishu accepting it: median and 95th percentile of the applied pushes.</p>
            <LatencyChart series={series} />
          </Card>
        </>
      )}
    </>
  );
}

const label = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

function useChart(make: (canvas: HTMLCanvasElement) => Chart, deps: unknown[]) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = make(ref.current);
    return () => chart.destroy();
  }, deps);
  return ref;
}

function PushesChart(props: { series: Series }) {
  const { series } = props;
  const ref = useChart(
    (canvas) =>
      new Chart(canvas, {
        type: 'bar',
        data: {
          labels: series.buckets.map((b) => label(b.at)),
          datasets: series.outcomes.map((o, i) => ({ label: o, data: series.buckets.map((b) => b.pushes[o] ?? 0), backgroundColor: colour(o, i), stack: 'pushes' })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { stacked: true, ticks: { maxTicksLimit: 12 } }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'pushes / min' } } },
        },
      }),
    [series],
  );
  return (
    <div class="chart">
      <canvas ref={ref} role="img" aria-label={`Bar chart of push attempts per minute by outcome, ${series.outcomes.join(', ') || 'none'}`} />
    </div>
  );
}

function LatencyChart(props: { series: Series }) {
  const { series } = props;
  const ref = useChart(
    (canvas) =>
      new Chart(canvas, {
        type: 'line',
        data: {
          labels: series.buckets.map((b) => label(b.at)),
          datasets: [
            { label: 'p50 ms', data: series.buckets.map((b) => b.eventToApplied?.p50Ms ?? null), borderColor: '#1565c0', backgroundColor: '#1565c0', spanGaps: false, pointRadius: 2 },
            { label: 'p95 ms', data: series.buckets.map((b) => b.eventToApplied?.p95Ms ?? null), borderColor: '#c62828', backgroundColor: '#c62828', spanGaps: false, pointRadius: 2 },
          ],
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { beginAtZero: true, title: { display: true, text: 'ms' } } },
        },
      }),
    [series],
  );
  return (
    <div class="chart">
      <canvas ref={ref} role="img" aria-label="Line chart of event to applied latency per minute, median and 95th percentile" />
    </div>
  );
}
