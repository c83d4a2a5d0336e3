/** Provided by the ingest role (its consumer measures lag); absent in a process without it. */
export const CONSUMER_LAG = Symbol('CONSUMER_LAG');

export interface ConsumerLagSource {
  status(): { lag: Record<string, number>; lagMeasuredAt: number | null };
}
