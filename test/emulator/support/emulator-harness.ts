import { parseEmulatorConfig, type EmulatorConfig } from '../../../apps/feishu-emulator/src/config/emulator.config';
import { createEmulatorApp, type EmulatorHandle } from '../../../apps/feishu-emulator/src/emulator.app';
import type { EmulatorOverrides } from '../../../apps/feishu-emulator/src/emulator.module';
import { waitFor as sharedWaitFor } from '../../support/wait';

export const BADGE_PATH = '/open-apis/application/v6/app_badge/set';
export const TOKEN_PATH = '/open-apis/auth/v3/tenant_access_token/internal';

export interface Answer {
  status: number;
  headers: Headers;
  // Test code reads arbitrary answer shapes.
  body: any;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Sent as is instead of JSON-encoding `body`. */
  raw?: string;
  signal?: AbortSignal;
}

export interface TestEmulator extends EmulatorHandle {
  config: EmulatorConfig;
  post(path: string, body?: unknown, options?: RequestOptions): Promise<Answer>;
  get(path: string, options?: RequestOptions): Promise<Answer>;
  /** A tenant_access_token of the custom app. */
  tenantToken(): Promise<string>;
  setBadge(token: string, body: unknown, query?: Record<string, string>, signal?: AbortSignal): Promise<Answer>;
  admin(path: string, body?: unknown): Promise<any>;
}

export async function startEmulator(env: Record<string, string> = {}, overrides: EmulatorOverrides = {}): Promise<TestEmulator> {
  const config = parseEmulatorConfig({ EMULATOR_PORT: '0', ...env });
  const handle = await createEmulatorApp(config, overrides);
  const request = async (method: string, path: string, body: unknown, options: RequestOptions = {}): Promise<Answer> => {
    const url = new URL(path, handle.url);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    const hasBody = options.raw !== undefined || body !== undefined;
    const response = await fetch(url, {
      method,
      headers: { ...(hasBody && { 'content-type': 'application/json' }), ...options.headers },
      body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: options.signal,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain-text answers stay text
    }
    return { status: response.status, headers: response.headers, body: parsed };
  };
  const emulator: TestEmulator = {
    ...handle,
    config,
    post: (path, body, options) => request('POST', path, body, options),
    get: (path, options) => request('GET', path, undefined, options),
    async tenantToken() {
      const answer = await emulator.post(TOKEN_PATH, { app_id: config.customApp.appId, app_secret: config.customApp.appSecret });
      if (answer.body.code !== 0) throw new Error(`token request failed: ${JSON.stringify(answer.body)}`);
      return answer.body.tenant_access_token as string;
    },
    setBadge: (token, body, query, signal) =>
      emulator.post(BADGE_PATH, body, { headers: { authorization: `Bearer ${token}` }, query, signal }),
    async admin(path, body) {
      const answer = body === undefined ? await emulator.get(`/_emulator/${path}`) : await emulator.post(`/_emulator/${path}`, body);
      if (answer.status >= 400) throw new Error(`admin ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
  };
  return emulator;
}

/** The shared waitFor (test/support/wait.ts) with this harness's pace: a fake clock's world moves in milliseconds. */
export function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 5000) {
  return sharedWaitFor(what, probe, timeoutMs, 10);
}

/** Status, code, log id header and Feishu's error envelope, all at once. */
export function expectFeishuError(answer: Answer, status: number, code: number): void {
  expect({ status: answer.status, code: answer.body?.code }).toEqual({ status, code });
  const logId = answer.headers.get('x-tt-logid');
  expect(logId).toMatch(/^\d{14}[0-9A-F]{20}$/);
  expect(answer.body).toEqual(
    expect.objectContaining({
      msg: expect.any(String),
      error: expect.objectContaining({ log_id: logId, troubleshooter: expect.stringContaining(`log_id=${logId}`) }),
    }),
  );
}

export function expectSuccess(answer: Answer): void {
  expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { code: 0, msg: 'success', data: {} } });
  expect(answer.headers.get('x-tt-logid')).toMatch(/^\d{14}[0-9A-F]{20}$/);
}
