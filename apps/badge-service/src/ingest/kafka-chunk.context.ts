import { BaseRpcContext } from '@nestjs/microservices';

type KafkaChunkContextArgs = [topic: string, partition: number, heartbeat: () => Promise<void>, isRunning: () => boolean, isStale: () => boolean];

/** What an `@EventPattern` handler of the Kafka batch transport may ask about the chunk it was given (`@Ctx()`). */
export class KafkaChunkContext extends BaseRpcContext<KafkaChunkContextArgs> {
  getTopic(): string {
    return this.args[0];
  }
  getPartition(): number {
    return this.args[1];
  }
  /** Tells the group coordinator this member is alive; rejects when the group is rebalancing. */
  getHeartbeat(): () => Promise<void> {
    return this.args[2];
  }
  /** The consumer is still running (not stopping or crashed). */
  isRunning(): boolean {
    return this.args[3]();
  }
  /** The partition was revoked by a rebalance since the batch was fetched: its next owner replays it. */
  isStale(): boolean {
    return this.args[4]();
  }
}
