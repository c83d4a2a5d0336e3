import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '@badges/config';

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.resolve(__dirname, '../../docker-compose.yml'), 'utf8'));

  it('parses and defines Kafka in KRaft mode, Postgres, the emulator and the service', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['emulator', 'kafka', 'postgres', 'service']);
    // The same Kafka as the local broker (scripts/kafka.sh, version from scripts/kafka/pom.xml).
    const pom = readFileSync(path.resolve(__dirname, '../../scripts/kafka/pom.xml'), 'utf8');
    const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)![1];
    expect(version).toMatch(/^4\./);
    expect(compose.services.kafka.image).toBe(`apache/kafka:${version}`);
    expect(compose.services.kafka.environment.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('configures the service only with variables the service accepts, and the service accepts them', () => {
    const env: Record<string, string> = compose.services.service.environment;
    const unknown = Object.keys(env).filter((k) => !CONFIG_VARIABLES.includes(k));
    expect(unknown).toEqual([]);
    expect(() => loadConfig(env)).not.toThrow();
  });

  it('points the service at the emulator with the emulator credentials', () => {
    const svc = compose.services.service.environment;
    const emu = compose.services.emulator.environment;
    expect(svc.FEISHU_BASE_URL).toBe(`http://emulator:${emu.EMULATOR_PORT}`);
    expect([svc.FEISHU_APP_ID, svc.FEISHU_APP_SECRET]).toEqual([emu.EMULATOR_APP_ID, emu.EMULATOR_APP_SECRET]);
  });
});

describe('Dockerfile', () => {
  it('starts the service with the node flags of npm run start:service (the benches run it with those)', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.resolve(__dirname, '../../Dockerfile'), 'utf8'))![1];
    const script: string = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).scripts['start:service'];
    expect(JSON.parse(cmd)).toEqual(script.split(/\s+/));
    expect(script).toMatch(/--max-semi-space-size=\d+ /);
  });
});
