import { isIP, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Logger } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ISocketFactory, Kafka, KafkaConfig, logLevel, LogEntry, SASLOptions } from 'kafkajs';
import { FatalKafkaError, fatalKafkaMessage } from './kafka-failure';
import { patchKafkajsRequestQueue } from './kafkajs-request-queue.patch';

const log = new Logger('Kafka');

/** kafkajs logs through the application logger; its INFO chatter is debug here. */
function logCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    const text = `${entry.logger ?? 'kafkajs'}: ${message}`;
    if (level === logLevel.ERROR) log.error({ ...rest }, text);
    else if (level === logLevel.WARN) log.warn({ ...rest }, text);
    else log.debug?.({ ...rest }, text);
  };
}

/** Same sockets as kafkajs's default factory (keep-alive 60 s, SNI for host names). */
const KEEP_ALIVE_MS = 60_000;

/**
 * kafkajs wraps a TLS verification failure in a retriable connection error and retries it for tens of seconds; this
 * factory sees the socket's own error first and reports a fatal one (untrusted certificate, refused client
 * certificate) at once, so start-up stops within a second rather than after every retry.
 */
function socketFactory(config: Pick<AppConfig, 'kafka'>, onFatal: (message: string) => void): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket: Socket = ssl
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : new Socket().connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    socket.on('error', (e) => {
      const fatal = fatalKafkaMessage(e, config);
      if (fatal) onFatal(fatal);
    });
    return socket;
  };
}

function sasl(config: Pick<AppConfig, 'kafka'>): SASLOptions | undefined {
  const s = config.kafka.sasl;
  if (!s) return undefined;
  // kafkajs's SASLOptions is a union keyed by the literal mechanism.
  return { mechanism: s.mechanism, username: s.username, password: s.password } as SASLOptions;
}

/**
 * The one place Kafka clients are configured: the consumer, the dead-letter producer and the admin client all come
 * from this Kafka instance, so they share brokers, TLS and SASL. `onFatal` hears failures no retry can cure.
 */
export function createKafka(config: Pick<AppConfig, 'kafka'>, suffix: string, onFatal: (message: string) => void = () => undefined): Kafka {
  patchKafkajsRequestQueue();
  const options: KafkaConfig = {
    clientId: `${config.kafka.clientId}-${suffix}`,
    brokers: config.kafka.brokers,
    logLevel: logLevel.INFO,
    logCreator,
    connectionTimeout: 5000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
    socketFactory: socketFactory(config, onFatal),
  };
  if (config.kafka.ssl) options.ssl = { ...config.kafka.ssl };
  const auth = sasl(config);
  if (auth) options.sasl = auth;
  return new Kafka(options);
}

/** Creates the input topic and its dead-letter topic when they are missing; with KAFKA_CREATE_TOPICS=false, checks them. */
export async function ensureTopics(kafka: Kafka, config: Pick<AppConfig, 'kafka'>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    if (!config.kafka.createTopics) {
      // Metadata lists only the topics this principal may describe: missing may also mean "not allowed to see".
      const missing = [config.kafka.topic, config.kafka.dlqTopic].filter((t) => !existing.has(t));
      if (missing.length > 0) {
        throw new FatalKafkaError(
          `Kafka topic ${missing.map((t) => `"${t}"`).join(' and ')} missing (or not visible to this user) and KAFKA_CREATE_TOPICS=false: ` +
            'create it, grant Describe on it, or set KAFKA_CREATE_TOPICS=true',
        );
      }
      return;
    }
    const wanted = [
      { topic: config.kafka.topic, numPartitions: config.kafka.partitions },
      { topic: config.kafka.dlqTopic, numPartitions: 1 },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length > 0) {
      try {
        await admin.createTopics({ topics: wanted, waitForLeaders: true });
      } catch (e) {
        // Another replica created it first.
        if ((e as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw e;
      }
    }
  } finally {
    await admin.disconnect();
  }
}
