import { AppConfig } from '@badges/config';

/**
 * A Kafka failure that retrying cannot cure: wrong credentials, a broker certificate we do not trust, a missing topic
 * the service may not create. Start-up stops with `message`, which names the cause and the variable to fix, never a
 * secret. Everything else (refused connections, timeouts, leader elections) is transient and retried.
 */
export class FatalKafkaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatalKafkaError';
  }
}

/** Node's codes for a peer certificate that fails verification against the configured CAs. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/** The chain of causes kafkajs wraps around the original error (retries exceeded, non-retriable, connection). */
function* causes(e: unknown): Generator<{ name?: string; code?: string; message?: string }> {
  for (let c: any = e, depth = 0; c && typeof c === 'object' && depth < 8; c = c.cause ?? c.originalError, depth++) yield c;
}

/** Decides whether `e` is fatal; returns the operator's message, or undefined for a transient failure. */
export function fatalKafkaMessage(e: unknown, config: Pick<AppConfig, 'kafka'>): string | undefined {
  for (const c of causes(e)) {
    if (c instanceof FatalKafkaError) return c.message;
    const code = c.code ?? '';
    // By name, or by kafkajs's message where a wrapper kept only the message.
    if (c.name === 'KafkaJSSASLAuthenticationError' || /^SASL \S+(?: \S+)* authentication failed|SASL \S+: Invalid username or password/.test(c.message ?? '')) {
      const user = config.kafka.sasl?.username ?? '?';
      return `Kafka SASL authentication failed for user "${user}" (mechanism ${config.kafka.sasl?.mechanism}; check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)`;
    }
    if (/does not support the requested SASL mechanism/i.test(c.message ?? '')) {
      return `Kafka SASL: the broker does not accept mechanism ${config.kafka.sasl?.mechanism} (KAFKA_SASL_MECHANISM)`;
    }
    if (UNTRUSTED.has(code)) return `Kafka TLS: certificate not trusted (KAFKA_SSL_CA_FILE): ${code}`;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return 'Kafka TLS: the broker certificate does not name the host in KAFKA_BROKERS (ERR_TLS_CERT_ALTNAME_INVALID)';
    }
    if (/ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/.test(code)) {
      return `Kafka TLS: the broker refused the client certificate (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE): ${code}`;
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
      return `Kafka TLS: the broker does not speak TLS on this listener (KAFKA_SSL, KAFKA_BROKERS): ${code}`;
    }
  }
  return undefined;
}
