import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './support/emulator-harness';

// These run the built emulator (`npm run build` first), as `npm run start:emulator` does.
const MAIN = path.resolve(__dirname, '../../dist/apps/feishu-emulator/apps/feishu-emulator/src/main.js');

function run(env: Record<string, string>) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build before these tests`);
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function listeningUrl(proc: ReturnType<typeof run>): Promise<string> {
  const line = await waitFor('the start line', () => proc.stdout().split('\n').find((l) => l.includes('feishu emulator listening')), 10_000);
  return JSON.parse(line).url;
}

describe('the emulator process', () => {
  it('refuses to start on a bad environment, naming each bad variable, and exits non-zero', async () => {
    const proc = run({ EMULATOR_PORT: 'eighty', EMULATOR_FAULT_DROP_RATE: '3', EMULATOR_STORE_APP_SECRET: 'orphan-secret-value' });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toContain('EMULATOR_PORT:');
    expect(proc.stderr()).toContain('EMULATOR_FAULT_DROP_RATE:');
    expect(proc.stderr()).toContain('EMULATOR_STORE_APP_ID:');
    expect(proc.stderr()).not.toContain('orphan-secret-value');
    expect(proc.stdout()).toBe('');
  });

  it('logs one start line by default, never the secret or tokens even with request logs on, and stops on SIGTERM', async () => {
    const secret = 'very-secret-app-secret-4711';
    for (const logRequests of ['false', 'true']) {
      const proc = run({ EMULATOR_PORT: '0', EMULATOR_APP_SECRET: secret, EMULATOR_LOG_REQUESTS: logRequests });
      const url = await listeningUrl(proc);
      const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(new URL(p, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      const tokenAnswer = (await (
        await post('/open-apis/auth/v3/tenant_access_token/internal', { app_id: 'cli_emulator', app_secret: secret })
      ).json()) as { tenant_access_token: string };
      await post('/open-apis/auth/v3/tenant_access_token/internal', { app_id: 'cli_emulator', app_secret: `${secret}-wrong` });
      const authorization = `Bearer ${tokenAnswer.tenant_access_token}`;
      await post('/open-apis/application/v6/app_badge/set', { user_id: 'ou_1', version: '1', pc: { web_app: 1 } }, { authorization });
      await post('/open-apis/application/v6/app_badge/set', { user_id: secret, version: 'x', pc: { web_app: 1 } }, { authorization });

      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      const output = proc.stdout() + proc.stderr();
      expect(output).not.toContain(secret);
      expect(output).not.toContain(tokenAnswer.tenant_access_token);
      const lines = proc.stdout().trim().split('\n');
      if (logRequests === 'false') {
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0])).toEqual(expect.objectContaining({ msg: 'feishu emulator listening', port: expect.any(Number) }));
      } else {
        expect(lines.filter((l) => JSON.parse(l).msg === 'request')).toHaveLength(4);
      }
    }
  });
});
