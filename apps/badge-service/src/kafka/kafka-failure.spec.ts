import { loadConfig } from '@badges/config';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { FatalKafkaError, fatalKafkaMessage } from './kafka-failure';

const PASSWORD = 'pw-do-not-print-7731';
const config = loadConfig({
  BADGE_ROLES: 'ingest',
  KAFKA_SSL: 'true',
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'badge-svc',
  KAFKA_SASL_PASSWORD: PASSWORD,
});
// kafkajs's typings declare no constructor arguments; at run time it takes the message, as kafkajs itself passes it.
const SaslError = KafkaJSSASLAuthenticationError as unknown as new (message: string) => KafkaJSSASLAuthenticationError;
const socketError = (code: string) => Object.assign(new Error(`socket said ${code}`), { code });

describe('fatalKafkaMessage', () => {
  it('calls a SASL refusal fatal, wrapped or not, naming the user and never the password', () => {
    const sasl = new SaslError('SASL SCRAM SHA512 authentication failed: Authentication failed');
    // As kafkajs's retrier wraps it (cause kept), and as a plain wrap that keeps only the message.
    const nonRetriable = new KafkaJSNonRetriableError(sasl);
    Object.assign(nonRetriable, { cause: sasl });
    for (const e of [sasl, nonRetriable, new KafkaJSNonRetriableError(sasl), new KafkaJSNumberOfRetriesExceeded(sasl, { retryCount: 5, retryTime: 100 })]) {
      const m = fatalKafkaMessage(e, config);
      expect(m).toMatch(/^Kafka SASL authentication failed for user "badge-svc"/);
      expect(m).not.toContain(PASSWORD);
    }
  });

  it('calls an untrusted or mismatched broker certificate fatal, pointing at the variable to fix', () => {
    expect(fatalKafkaMessage(socketError('SELF_SIGNED_CERT_IN_CHAIN'), config)).toBe(
      'Kafka TLS: certificate not trusted (KAFKA_SSL_CA_FILE): SELF_SIGNED_CERT_IN_CHAIN',
    );
    const wrapped = new KafkaJSConnectionError('Connection error: unable to verify the first certificate', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(fatalKafkaMessage(wrapped, config)).toMatch(/certificate not trusted \(KAFKA_SSL_CA_FILE\)/);
    expect(fatalKafkaMessage(socketError('ERR_TLS_CERT_ALTNAME_INVALID'), config)).toMatch(/does not name the host in KAFKA_BROKERS/);
    expect(fatalKafkaMessage(socketError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), config)).toMatch(/refused the client certificate/);
    expect(fatalKafkaMessage(new FatalKafkaError('Kafka topic "t" missing'), config)).toBe('Kafka topic "t" missing');
  });

  it('leaves transient failures to the retries', () => {
    for (const e of [
      socketError('ECONNREFUSED'),
      new KafkaJSConnectionError('Connection timeout'),
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' }), { retryCount: 8, retryTime: 10_000 }),
      new Error('The group coordinator is not available'),
      null,
    ]) {
      expect(fatalKafkaMessage(e, config)).toBeUndefined();
    }
  });
});
