/** The consumer group's lag per input partition (the Kafka module's ConsumerLagMonitor). */
export const CONSUMER_LAG = Symbol('CONSUMER_LAG');

export interface ConsumerLagSource {
  status(): { lag: Record<string, number>; lagMeasuredAt: number | null };
}
