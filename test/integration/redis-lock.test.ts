import { AppError } from '../../src/errors/app-error';
import { createRedisLock } from '../../src/infra/redis-lock';
import type { RedisClient } from '../../src/infra/redis-connection';
import { deletePrefix } from '../../test-kit/redis-keys';
import { openTestRedis, uniquePrefix } from '../support/test-env';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the Redis lock', () => {
  let redis: RedisClient;
  const prefix = uniquePrefix('lock');

  beforeAll(() => {
    redis = openTestRedis();
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('lets one holder in at a time, across clients', async () => {
    const other = openTestRedis();
    try {
      const mine = createRedisLock(redis, { prefix });
      const theirs = createRedisLock(other, { prefix });
      let inside = 0;
      let most = 0;
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          (index % 2 === 0 ? mine : theirs).run('shared', async () => {
            inside += 1;
            most = Math.max(most, inside);
            await sleep(15);
            order.push(index);
            inside -= 1;
          }),
        ),
      );
      expect(most).toBe(1);
      expect(order).toHaveLength(10);
      expect(await redis.exists(`${prefix}:lock:shared`)).toBe(0);
    } finally {
      await other.quit();
    }
  });

  it('releases the lock when the work throws, and passes the error on', async () => {
    const locks = createRedisLock(redis, { prefix });
    await expect(
      locks.run('throws', () => Promise.reject(new Error('step failed'))),
    ).rejects.toThrow('step failed');
    expect(await redis.exists(`${prefix}:lock:throws`)).toBe(0);
    await expect(locks.run('throws', () => Promise.resolve('again'))).resolves.toBe('again');
  });

  it('gives up on a busy lock with a retryable error', async () => {
    await redis.set(`${prefix}:lock:busy`, 'someone else', 'PX', 10_000);
    const locks = createRedisLock(redis, { prefix, waitMs: 300 });
    const error = await locks.run('busy', () => Promise.resolve()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('service_unavailable');
    // The other holder's lock is left alone.
    expect(await redis.get(`${prefix}:lock:busy`)).toBe('someone else');
  });

  it('never releases a lock that expired and passed to another holder', async () => {
    const locks = createRedisLock(redis, { prefix, ttlMs: 100 });
    await locks.run('expiring', async () => {
      await sleep(250);
      // Our lock expired meanwhile; another holder took it.
      await redis.set(`${prefix}:lock:expiring`, 'next holder', 'PX', 10_000);
    });
    expect(await redis.get(`${prefix}:lock:expiring`)).toBe('next holder');
  });
});
