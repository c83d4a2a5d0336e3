/** The kafkajs client (brokers, TLS, SASL from the configuration), and the clients made from it. */
export const KAFKA_CLIENT = Symbol('KAFKA_CLIENT');
/** Idempotent producer for the dead-letter topic; the ingest transport connects it before consuming. */
export const KAFKA_PRODUCER = Symbol('KAFKA_PRODUCER');
/** Admin client for offsets and consumer lag; connected by whoever uses it first. */
export const KAFKA_ADMIN = Symbol('KAFKA_ADMIN');
