import { Injectable, Logger } from '@nestjs/common';

/**
 * Failures no retry cures (wrong credentials, an untrusted certificate), seen by the client's sockets before kafkajs
 * has finished retrying. The ingest transport listens and stops the process; a process without ingest only logs.
 */
@Injectable()
export class KafkaFatalSignal {
  private readonly log = new Logger('Kafka');
  private readonly listeners: ((message: string) => void)[] = [];

  listen(listener: (message: string) => void): void {
    this.listeners.push(listener);
  }

  report(message: string): void {
    if (this.listeners.length === 0) this.log.error({ cause: message }, `Kafka: ${message}`);
    for (const l of this.listeners) l(message);
  }
}
