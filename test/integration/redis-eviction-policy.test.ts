import { PassThrough } from 'node:stream';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { readEvictionPolicy, warnUnlessNoEviction } from '../../src/infra/redis-eviction-policy';
import { createLogger } from '../../src/logging/logger';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';

/** Runs the start-up check against `redis` and returns the log lines it wrote. */
async function startupLines(redis: PrivateRedis): Promise<{ level: number; msg: string }[]> {
  const stream = new PassThrough();
  let captured = '';
  stream.on('data', (chunk: Buffer) => (captured += chunk.toString()));
  const client = createRedisConnection(redis.url, 'producer');
  try {
    await warnUnlessNoEviction(client, createLogger({ logLevel: 'info' }, stream));
  } finally {
    client.disconnect();
  }
  return captured
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

describe('the Redis eviction-policy check at start-up', () => {
  let lru: PrivateRedis;
  let safe: PrivateRedis;

  beforeAll(async () => {
    lru = await createPrivateRedis(['--maxmemory-policy', 'allkeys-lru']);
    safe = await createPrivateRedis();
    await Promise.all([lru.start(), safe.start()]);
  });

  afterAll(async () => {
    await Promise.all([lru.kill(), safe.kill()]);
  });

  it('errors loudly when Redis may evict queue keys', async () => {
    const lines = await startupLines(lru);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe(50);
    expect(lines[0]?.msg).toMatch(/REDIS IS MISCONFIGURED: maxmemory-policy is "allkeys-lru"/);
  });

  it('says nothing when Redis is set to noeviction', async () => {
    const client = createRedisConnection(safe.url, 'producer');
    expect(await readEvictionPolicy(client)).toBe('noeviction');
    client.disconnect();
    expect(await startupLines(safe)).toEqual([]);
  });
});
