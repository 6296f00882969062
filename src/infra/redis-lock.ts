import { randomBytes } from 'node:crypto';
import { AppError } from '../errors/app-error';
import type { RedisClient } from './redis-connection';

/** Runs work under a named mutual-exclusion lock shared by every process. */
export interface KeyedLock {
  run: <T>(name: string, work: () => Promise<T>) => Promise<T>;
}

/** Options of {@link createRedisLock}. */
export interface RedisLockOptions {
  /** Namespaces the keys (the queue prefix), so deployments sharing a Redis stay apart. */
  prefix: string;
  /** How long a holder that died keeps the lock. */
  ttlMs?: number;
  /** How long to wait for a busy lock before giving up with a retryable error. */
  waitMs?: number;
}

// Deletes the key only while it still holds our token: a holder whose lock expired must not
// release the next holder's.
const releaseScript =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A lock in Redis (`SET NX PX`, released by compare-and-delete). Not a consensus lock: it is
 * what keeps this service's own writers of one document from overlapping, nothing stronger.
 */
export function createRedisLock(redis: RedisClient, options: RedisLockOptions): KeyedLock {
  const ttlMs = options.ttlMs ?? 30_000;
  const waitMs = options.waitMs ?? 15_000;
  return {
    run: async (name, work) => {
      const key = `${options.prefix}:lock:${name}`;
      const token = randomBytes(12).toString('hex');
      const deadline = Date.now() + waitMs;
      for (let attempt = 0; ; attempt += 1) {
        if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') break;
        if (Date.now() > deadline) {
          throw new AppError('service_unavailable', `The lock "${name}" stayed busy; try again`);
        }
        await sleep(Math.min(10 * 2 ** attempt, 200) * (0.5 + Math.random()));
      }
      try {
        return await work();
      } finally {
        await redis.eval(releaseScript, 1, key, token).catch(() => undefined);
      }
    },
  };
}
