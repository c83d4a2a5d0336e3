import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event, wire } from '../support/events';
import { createTopic, deleteTopics, produce, uniqueName, waitFor } from '../support/kafka';
import { freePort } from '../support/ports';
import { httpReady, ROOT, runNode, RunningProcess, SERVICE_MAIN } from '../support/service';
import { APP_ID, APP_SECRET, emulatorJson, startEmulatorProcess } from '../support/stack';
import { CONSOLE_CSP } from '../../apps/badge-service/src/console/console-assets';

jest.setTimeout(240_000);

const OPS_TOKEN = 'console-ops-token-0123456789abcdef';
const READ_TOKEN = 'console-read-only-token-0123456789';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The operator console in a real headless Chromium (Debian's, driven by playwright-core) against the built
 * service (ingest, reconcile, api) on the real Kafka broker, Postgres and the Feishu emulator.
 */
describe('operator console in a real browser', () => {
  let db: TestDatabase;
  let topic: string;
  let emulator: { url: string; close(): Promise<void> };
  let service: RunningProcess;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Content-Security-Policy violations and script errors the browser reported: the console must cause none. */
  const problems: string[] = [];

  const api = async (p: string, token = OPS_TOKEN): Promise<any> => (await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${token}` } })).json();

  beforeAll(async () => {
    db = await createTestDatabase('console');
    topic = uniqueName('console');
    await createTopic(topic, 3);
    emulator = await startEmulatorProcess();
    await emulatorJson(emulator, '/_emulator/users', { method: 'POST', body: JSON.stringify({ invisible: ['ou_hidden'] }) });
    const dir = mkdtempSync(path.join(tmpdir(), 'console-tokens-'));
    const tokens = path.join(dir, 'tokens.json');
    writeFileSync(
      tokens,
      JSON.stringify([
        { name: 'ops-oncall', token: OPS_TOKEN, scopes: ['read', 'resync'], tenants: ['*'] },
        { name: 'support-read', token: READ_TOKEN, scopes: ['read'], tenants: ['*'] },
      ]),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = runNode(SERVICE_MAIN, {
      BADGE_ROLES: 'ingest,reconcile,api',
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('console'),
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      DATABASE_URL: db.url,
      FEISHU_BASE_URL: emulator.url,
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: APP_SECRET,
      AUDIT_API_TOKENS_FILE: tokens,
      FEISHU_RATE_LIMIT: '1000',
      PUSH_MIN_INTERVAL_MS: '0',
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
    });
    await waitFor('service ready', () => httpReady(`${base}/health/ready`), 60_000, 200);

    // alice: two sources, then approval changes (the moment in between is picked on the timeline);
    // hidden: Feishu refuses it with 213007 (parked); long: more history than one timeline page.
    await produce(topic, [
      { key: 'ou_alice', value: wire(event('ou_alice', 'approval', 1, counts(1, 0, 1, 0))) },
      { key: 'ou_alice', value: wire(event('ou_alice', 'task', 1, counts(2, 1, 0, 0))) },
      { key: 'ou_hidden', value: wire(event('ou_hidden', 'approval', 1, counts(3, 0, 0, 0))) },
    ]);
    await waitFor('alice applied', async () => (await api('/v1/badges/ou_alice')).inSync === true, 60_000, 200);
    await produce(topic, [{ key: 'ou_alice', value: wire(event('ou_alice', 'approval', 2, counts(5, 0, 4, 0))) }]);
    await produce(topic, Array.from({ length: 70 }, (_, i) => ({ key: 'ou_long', value: wire(event('ou_long', 'inbox', i + 1, counts(i % 7))) })));
    await waitFor('alice applied again', async () => (await api('/v1/badges/ou_alice')).desired.pc.web_app === 7 && (await api('/v1/badges/ou_alice')).inSync, 60_000, 200);
    await waitFor('hidden parked', async () => (await api('/v1/badges/ou_hidden')).status === 'parked', 60_000, 200);
    await waitFor('long history', async () => (await api('/v1/badges/ou_long/history?limit=200')).items?.length >= 70, 60_000, 200);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });

  afterEach(() => {
    // 401/403 answers the tests provoke are logged by Chromium as failed resource loads; everything else is a fault.
    const real = problems.filter((p) => !/status of 40[13]/.test(p));
    problems.length = 0;
    expect(real).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await service?.kill('SIGTERM');
    await emulator?.close();
    await deleteTopics(topic, `${topic}.dlq`);
    await db?.drop();
  });

  const signIn = async (token: string) => {
    await page.goto(`${base}/console`);
    await page.getByLabel('Audit token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const openUser = async (userId: string) => {
    await page.goto(`${base}/console/users/${userId}?tenantKey=&userIdType=open_id`);
    await page.getByRole('heading', { name: `User ${userId}` }).waitFor();
  };

  it('serves the console under a strict Content-Security-Policy, deep links included', async () => {
    for (const p of ['/console', '/console/users/ou_alice?tenantKey=&userIdType=open_id', '/console/health']) {
      const r = await fetch(`${base}${p}`);
      expect([p, r.status, r.headers.get('content-security-policy')]).toEqual([p, 200, CONSOLE_CSP]);
      expect(await r.text()).toContain('<div id="app">');
    }
    expect(CONSOLE_CSP).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    expect((await fetch(`${base}/console/assets/nope.js`)).status).toBe(404);
  });

  it('refuses a wrong token and says so', async () => {
    await signIn('not-a-token-of-this-service');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That audit token was refused (401 Unauthorized)');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signs in, keeps the token for the tab only and never in the URL, and finds a user whose desired equals applied', async () => {
    await signIn(OPS_TOKEN);
    await page.getByLabel('User ID').fill('ou_alice');
    await page.getByLabel('User ID').press('Enter');
    await page.waitForURL(/\/console\/users\/ou_alice\?tenantKey=&userIdType=open_id$/);
    await expect(page.getByTestId('equality').textContent()).resolves.toBe('Applied equals desired on both sides.');
    expect(await page.getByTestId('in-sync').textContent()).toBe('yes');
    const desired = await page.locator('table.counts td[data-col="desired"]').allTextContents();
    const applied = await page.locator('table.counts td[data-col="applied"]').allTextContents();
    expect(desired).toEqual(['7', '1', '4', '0']);
    expect(applied).toEqual(desired);
    expect(await page.locator('tr.differs').count()).toBe(0);
    expect(page.url()).not.toContain(OPS_TOKEN);
    expect(await page.evaluate('[Object.values(sessionStorage), localStorage.length, document.cookie]')).toEqual([[OPS_TOKEN], 0, '']);
  });

  it("shows a parked user's 213007 with its reason", async () => {
    await openUser('ou_hidden');
    expect(await page.getByTestId('status').textContent()).toBe('parked');
    await expect(page.getByTestId('reason').textContent()).resolves.toMatch(/^213007: /);
    const lastError = await page.getByTestId('last-error').textContent();
    expect(lastError).toContain('Feishu code213007');
    expect(await page.locator('tr.differs').count()).toBe(4); // never applied: every field differs (unknown)
  });

  it('loads older timeline entries as one scrolls past the first page', async () => {
    await openUser('ou_long');
    const entries = page.locator('[data-testid="timeline"] > li');
    await waitFor('first page', async () => (await entries.count()) === 50, 10_000, 50);
    // Scrolling only: each time the end of the list comes into view the next page loads.
    await waitFor(
      'the end of the history after scrolling',
      async () => {
        await page.mouse.wheel(0, 100_000);
        return (await page.getByTestId('timeline-end').count()) === 1;
      },
      15_000,
      100,
    );
    expect(await entries.count()).toBeGreaterThan(70);
  });

  it('shows the badge as it stood at a moment picked on the timeline', async () => {
    await openUser('ou_alice');
    const first = page.locator('[data-testid="timeline"] > li', { hasText: 'sequence 1' }).filter({ hasText: 'source approval' }).last();
    await first.getByRole('button', { name: /^Badge then/ }).click();
    const then = page.getByTestId('badge-at');
    await then.waitFor();
    // Right after approval's first change, task may or may not have been stored already (same batch or the next):
    // the sum must be what the per-source rows say, and approval must be at its first counts.
    const approval = await then.locator('tr', { hasText: 'approval' }).textContent();
    expect(approval).toContain('pc 1/0, mobile 1/0');
    const sum = await then.locator('td[data-col="desired"]').allTextContents();
    const hasTask = (await then.locator('tr', { hasText: 'task' }).count()) === 1;
    expect(sum).toEqual(hasTask ? ['3', '1', '1', '0'] : ['1', '0', '1', '0']);
    // And a moment typed in (to the second): a second ago, which is the current badge once the user's last change
    // is more than two seconds old (earlier tests' events may still be arriving on a slow machine).
    await waitFor('no change of ou_alice for 2 s', async () => {
      const newest = (await api('/v1/badges/ou_alice/history?limit=1')).items[0];
      return Date.now() - Date.parse(newest.at) > 2000;
    }, 30_000, 200);
    const current = await api('/v1/badges/ou_alice');
    await page.getByLabel('Moment (your local time)').fill(await page.evaluate(() => {
      const d = new Date(Date.now() - 1000);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }));
    await page.getByRole('button', { name: 'Show the badge then' }).click();
    await waitFor('typed moment shown', async () => (await then.locator('td[data-col="desired"]').allTextContents())[0] === String(current.desired.pc.web_app), 10_000, 50).catch(
      async (e: Error) => {
        throw new Error(`${e.message}; expected pc web_app ${current.desired.pc.web_app}, the section shows: ${await page.locator('#badge-at').innerText()}`);
      },
    );
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: path.join(ROOT, 'docs/console-user.png'), fullPage: true });
  });

  it('resyncs after a confirmation and shows the result', async () => {
    await openUser('ou_alice');
    await page.getByRole('button', { name: 'Resync' }).click();
    await page.getByRole('button', { name: 'Confirm resync' }).click();
    await page.getByTestId('resync-result').filter({ hasText: /^Resync accepted/ }).waitFor();
    await waitFor('resync in the history', async () => (await api('/v1/badges/ou_alice/history')).items.some((i: any) => i.kind === 'resync' && i.detail.startsWith('resync by ops-oncall')), 10_000, 100);
  });

  it("refuses a read-only token's resync politely, changing nothing", async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(READ_TOKEN);
    await page.getByRole('heading', { name: 'Find a user' }).waitFor();
    await openUser('ou_hidden');
    await page.getByRole('button', { name: 'Resync' }).click();
    await page.getByRole('button', { name: 'Confirm resync' }).click();
    const refused = page.getByTestId('resync-result').filter({ hasText: /lacks the resync scope/ });
    await refused.waitFor();
    expect(await refused.textContent()).toBe('This token may not resync: it lacks the resync scope. Nothing was changed; ask for a token with resync rights.');
    expect((await api('/v1/badges/ou_hidden')).status).toBe('parked');
  });

  it('lists users by status with counts, parked ones grouped by reason', async () => {
    await page.goto(`${base}/console/lists?status=parked`);
    const group = page.getByRole('region', { name: /^Parked: 213007: / });
    await group.waitFor();
    expect(await group.getByRole('link', { name: 'ou_hidden' }).count()).toBe(1);
    await expect(page.getByRole('link', { name: /parked/ }).textContent()).resolves.toMatch(/parked\s*1/);
  });

  it('shows health at a glance with charts from /v1/stats/series', async () => {
    await waitFor('consumer lag measured', async () => (await api('/v1/stats')).consumerLag !== null, 30_000, 250);
    await page.goto(`${base}/console/health`);
    await page.getByTestId('pushes-total').waitFor();
    await page.getByLabel('Window').selectOption('1');
    await page.locator('[data-testid="pushes-total"][data-minutes="60"]').waitFor();
    await page.getByRole('table', { name: /Messages behind, by partition/ }).waitFor();
    expect(await page.locator('canvas').count()).toBe(2);
    expect(await page.getByTestId('dirty').textContent()).toMatch(/^\d+$/);
    await expect(page.getByTestId('pushes-total').textContent()).resolves.toMatch(/^[1-9]\d* push attempts .*applied/);
    await page.screenshot({ path: path.join(ROOT, 'docs/console-health.png'), fullPage: true });
    const series = await api('/v1/stats/series?hours=1');
    expect(series.buckets.some((b: any) => b.eventToApplied !== null && b.eventToApplied.count > 0)).toBe(true);
  });

  it('is readable on a phone width and reachable by keyboard', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openUser('ou_alice');
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.goto(`${base}/console`);
    await page.getByLabel('User ID').waitFor();
    const reached = new Set<string>();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate<string>("document.activeElement?.id || document.activeElement?.textContent || ''"));
    }
    expect([...reached]).toEqual(expect.arrayContaining(['user-id', 'tenant-key', 'user-id-type', 'Open', 'Sign out']));
    await page.setViewportSize({ width: 1280, height: 800 });
    const unlabelled = "[...document.querySelectorAll('input, select, button, canvas')].filter((el) => !(el.labels?.length || el.textContent.trim() || el.getAttribute('aria-label'))).map((el) => el.outerHTML)";
    expect(await page.evaluate(unlabelled)).toEqual([]);
    await openUser('ou_alice');
    await page.locator('[data-testid="timeline"] > li').first().waitFor();
    expect(await page.evaluate(unlabelled)).toEqual([]);
    await page.goto(`${base}/console/health`);
    await page.locator('canvas').first().waitFor();
    expect(await page.evaluate(unlabelled)).toEqual([]);
  });
});
