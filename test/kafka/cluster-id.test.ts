import { kafkaClusterId } from '../support/secured-kafka';

// CI once failed on this: a random base64url id started with '-', and kafka-storage read it as an option.
describe('the secured broker\'s cluster id', () => {
  it('never starts with "-", drawing again as Kafka\'s Uuid.randomUuid() does', () => {
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0)];
    expect(Buffer.alloc(16, 0xf8).toString('base64url')).toMatch(/^-/);
    const id = kafkaClusterId(() => draws.shift()!);
    expect(id).toBe(Buffer.alloc(16, 0).toString('base64url'));
    expect(draws).toHaveLength(0);
  });

  it('is 16 bytes in base64url, as kafka-storage format expects', () => {
    const id = kafkaClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
  });
});
