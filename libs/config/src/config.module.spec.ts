import { Injectable, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig, ConfigError, loadConfig } from './app-config';
import { AppConfigModule } from './config.module';

const SECRET = 'app-secret-from-a-file-0123';
const env = { BADGE_ROLES: 'reconcile', FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', KAFKA_TOPIC: 'badges.test' };

/** Reads its sub-config in the constructor, as the service's consumers do. */
@Injectable()
class Reader {
  readonly topic: string;
  constructor(readonly config: ConfigService<AppConfig, true>) {
    this.topic = config.get('kafka', { infer: true }).topic;
  }
}
@Module({ providers: [Reader], exports: [Reader] })
class FeatureModule {}

async function serve(module: Awaited<ReturnType<typeof AppConfigModule.forRoot>>) {
  const ref = await Test.createTestingModule({ imports: [module, FeatureModule] }).compile();
  return ref.get(Reader);
}

describe('AppConfigModule', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('serves the parsed config through ConfigService, typed, to a constructor in another module', async () => {
    const { config, module } = await AppConfigModule.load({ env });
    const reader = await serve(module);
    expect(reader.topic).toBe('badges.test');
    expect(reader.config.get('feishu', { infer: true })).toEqual(config.feishu);
    expect([...reader.config.get('roles', { infer: true })]).toEqual(['reconcile']);
  });

  it('reads the process environment when given no env, and never answers from a raw variable', async () => {
    Object.assign(process.env, env, { HTTP_PORT: '4321' });
    const { config, module } = await AppConfigModule.load();
    expect(config.http.port).toBe(4321);
    const reader = await serve(module);
    expect(reader.config.get('http', { infer: true }).port).toBe(4321);
    expect((reader.config as unknown as ConfigService).get('FEISHU_APP_SECRET')).toBeUndefined();
    expect((reader.config as unknown as ConfigService).get('HTTP_PORT')).toBeUndefined();
  });

  it('writes nothing into process.env: a secret read from its _FILE stays out of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-spec-'));
    try {
      const file = join(dir, 'secret');
      writeFileSync(file, `${SECRET}\n`);
      const { FEISHU_APP_SECRET: _plain, ...rest } = env;
      Object.assign(process.env, rest, { FEISHU_APP_SECRET_FILE: file });
      const before = { ...process.env };
      const { config } = await AppConfigModule.load({ overrides: { BADGE_ROLES: 'ingest,reconcile' } });
      expect(config.feishu.appSecret).toBe(SECRET);
      expect([...config.roles]).toEqual(['ingest', 'reconcile']);
      expect({ ...process.env }).toEqual(before);
      expect(JSON.stringify(process.env)).not.toContain(SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects with one ConfigError naming every bad variable, never a value', async () => {
    const err = await AppConfigModule.load({ env: { ...env, HTTP_PORT: 'eighty', KAFKA_BROKERS: 'x', FEISHU_APP_TYPE: 'isv' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual(['FEISHU_APP_TYPE', 'HTTP_PORT', 'KAFKA_BROKERS']);
    expect((err as Error).message).not.toContain('eighty');
  });

  it('serves a config parsed beforehand, without reading the process environment (tests)', async () => {
    process.env.KAFKA_TOPIC = 'from-the-process';
    const reader = await serve(await AppConfigModule.forRoot(loadConfig(env)));
    expect(reader.topic).toBe('badges.test');
  });
});
