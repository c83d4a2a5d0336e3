import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './ports';
import { waitFor } from './wait';
import { ROOT } from './service';

/**
 * A second Apache Kafka broker for one test file, from the jars scripts/kafka.sh fetched (KAFKA_LIBS_DIR, else
 * <repo>/.kafka/libs-<KAFKA_VERSION or the default>; a static controller quorum, which 3.9 and 4.x both accept): KRaft combined mode on ports of its own, one SASL_SSL listener with SCRAM-SHA-512, a CA and a
 * broker certificate (SAN IP:127.0.0.1) and a client certificate the broker requires (mutual TLS), made with openssl in a temporary directory that stop() removes.
 */
export interface SecuredBroker {
  brokers: string;
  dir: string;
  /** PEM of the CA that signed the broker certificate. */
  caFile: string;
  /** PEM of a CA that signed nothing of the broker's. */
  untrustedCaFile: string;
  /** The client certificate and key the broker requires (mutual TLS, `ssl.client.auth=required`). */
  clientCertFile: string;
  clientKeyFile: string;
  username: string;
  password: string;
  /** A client with the service's credentials, for producing and reading in tests. */
  kafka: Kafka;
  log(): string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * A random cluster id as Kafka's own `Uuid.randomUuid()` makes it: 16 bytes in base64url, never starting with '-'.
 * One id in 64 would otherwise start with '-', and kafka-storage's argument parser reads that as an option
 * ("argument --cluster-id/-t: expected one argument").
 */
export function kafkaClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The Kafka version scripts/kafka.sh runs: KAFKA_VERSION, else the `<kafka.version>` of scripts/kafka/pom.xml. */
export function kafkaVersion(): string {
  const pom = readFileSync(path.join(ROOT, 'scripts/kafka/pom.xml'), 'utf8');
  return process.env.KAFKA_VERSION || /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)![1];
}

/** The jars scripts/kafka.sh fetched for that version (KAFKA_LIBS_DIR overrides), and their Kafka major version. */
export function kafkaLibsDir(): { dir: string; major: number } {
  const dir = process.env.KAFKA_LIBS_DIR ?? path.join(ROOT, `.kafka/libs-${kafkaVersion()}`);
  const jar = existsSync(dir) ? readdirSync(dir).map((f) => /^kafka_2\.13-(\d+)\..*\.jar$/.exec(f)).find(Boolean) : undefined;
  if (!jar) {
    throw new Error(`no Kafka jars in ${dir}: run npm run kafka:start once (it fetches them), or set KAFKA_LIBS_DIR`);
  }
  return { dir, major: Number(jar[1]) };
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA: `<name>.pem` and `<name>.key`. P-256 keys: fast to make, and Java accepts them. */
function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

export async function startSecuredBroker(): Promise<SecuredBroker> {
  const { dir: libs, major } = kafkaLibsDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'badge-secured-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const username = 'badge-svc';
  const password = `scram-pw-${randomBytes(12).toString('hex')}`;
  const brokerPassword = `broker-pw-${randomBytes(12).toString('hex')}`;
  const storePassword = randomBytes(12).toString('hex');

  makeCa(dir, 'ca');
  makeCa(dir, 'untrusted-ca');
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${HOST}`, '-keyout', 'broker.key', '-out', 'broker.csr']);
  writeFileSync(path.join(dir, 'broker.ext'), `subjectAltName=IP:${HOST}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(dir, ['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'broker.ext', '-out', 'broker.pem']);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${username}`, '-keyout', 'client.key', '-out', 'client.csr']);
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'client.ext', '-out', 'client.pem']);
  openssl(dir, ['pkcs12', '-export', '-in', 'broker.pem', '-inkey', 'broker.key', '-certfile', 'ca.pem', '-name', 'broker', '-out', 'broker.p12', '-passout', `pass:${storePassword}`]);

  const data = path.join(dir, 'data');
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  const props = path.join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${HOST}:${controllerPort}`,
      `listeners=SASL_SSL://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
      `advertised.listeners=SASL_SSL://${HOST}:${port}`,
      'inter.broker.listener.name=SASL_SSL',
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${brokerPassword}";`,
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${path.join(dir, 'broker.p12')}`,
      `ssl.keystore.password=${storePassword}`,
      `ssl.key.password=${storePassword}`,
      'ssl.client.auth=required',
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${path.join(dir, 'ca.pem')}`,
      `log.dirs=${data}`,
      // A missing topic must stay missing (KAFKA_CREATE_TOPICS=false is tested against it).
      'auto.create.topics.enable=false',
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );

  const javaOpts = ['-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true', `-Dkafka.logs.dir=${logs}`,
    // Kafka 4 logs through log4j2 (KIP-653), 3.x through log4j 1; the same quiet files either way.
    major >= 4 ? `-Dlog4j2.configurationFile=${path.join(ROOT, 'scripts/kafka/log4j2.xml')}` : `-Dlog4j.configuration=file:${path.join(ROOT, 'scripts/kafka/log4j.properties')}`,
    '-cp', `${libs}/*`];
  try {
    execFileSync('java', ['-Xmx256m', ...javaOpts, 'kafka.tools.StorageTool', 'format', '-t', kafkaClusterId(), '-c', props, '--ignore-formatted',
      '--add-scram', `SCRAM-SHA-512=[name=broker,password=${brokerPassword}]`,
      '--add-scram', `SCRAM-SHA-512=[name=${username},password=${password}]`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // execFileSync's message repeats the whole command line, SCRAM passwords included: say what failed without them.
    const e = err as { status?: number | null; stderr?: Buffer | string };
    const stderr = String(e.stderr ?? '').split(brokerPassword).join('***').split(password).join('***');
    throw new Error(`kafka-storage format failed (exit ${e.status ?? 'unknown'}): ${stderr.trim()}`);
  }

  const out = openSync(path.join(logs, 'stdout.log'), 'a');
  const child: ChildProcess = spawn('java', ['-Xms256m', '-Xmx384m', ...javaOpts, 'kafka.Kafka', props], { stdio: ['ignore', out, out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => ['stdout.log', 'server.log'].map((f) => (existsSync(path.join(logs, f)) ? readFileSync(path.join(logs, f), 'utf8') : '')).join('\n');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const brokers = `${HOST}:${port}`;
  const ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  const kafka = new Kafka({
    clientId: 'badge-secured-tests',
    brokers: [brokers],
    ssl: { ca: [ca], cert: readFileSync(path.join(dir, 'client.pem'), 'utf8'), key: readFileSync(path.join(dir, 'client.key'), 'utf8') },
    sasl: { mechanism: 'scram-sha-512', username, password },
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 200 },
  });
  try {
    await waitFor(
      'the secured broker to list topics over SASL_SSL',
      async () => {
        if (child.exitCode !== null) throw new Error(`broker exited (${child.exitCode}):\n${log().slice(-3000)}`);
        const admin = kafka.admin();
        await admin.connect();
        try {
          await admin.listTopics();
          return true;
        } finally {
          await admin.disconnect();
        }
      },
      90_000,
      500,
    );
  } catch (e) {
    const tail = log().slice(-3000);
    await stop();
    throw new Error(`${(e as Error).message}\n${tail}`);
  }
  return {
    brokers,
    dir,
    caFile: path.join(dir, 'ca.pem'),
    untrustedCaFile: path.join(dir, 'untrusted-ca.pem'),
    clientCertFile: path.join(dir, 'client.pem'),
    clientKeyFile: path.join(dir, 'client.key'),
    username,
    password,
    kafka,
    log,
    stop,
  };
}
