import { once } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger';

/**
 * Reads Redis's `maxmemory-policy`. Any policy but `noeviction` lets Redis silently drop queue
 * keys under memory pressure, which loses jobs (the reconciler would re-queue the runs, but
 * a scheduler or a flow's bookkeeping could vanish). Returns `null` when the server refuses
 * `CONFIG GET` (managed Redis often does).
 */
export async function readEvictionPolicy(redis: Redis): Promise<string | null> {
  try {
    if (redis.status !== 'ready') {
      let timer: NodeJS.Timeout | undefined;
      // A fail-fast connection refuses commands until it is ready.
      await Promise.race([
        once(redis, 'ready'),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 5_000);
        }),
      ]).finally(() => {
        clearTimeout(timer);
      });
    }
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
    return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null;
  } catch {
    return null;
  }
}

/** Warns loudly at start-up unless Redis is set to `noeviction`. */
export async function warnUnlessNoEviction(redis: Redis, logger: Logger): Promise<void> {
  const policy = await readEvictionPolicy(redis);
  if (policy === null) {
    logger.warn(
      'could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is noeviction',
    );
  } else if (policy !== 'noeviction') {
    logger.error(
      { maxmemoryPolicy: policy },
      `REDIS IS MISCONFIGURED: maxmemory-policy is "${policy}", not "noeviction"; under memory pressure Redis will evict queue keys and jobs will be lost`,
    );
  }
}
