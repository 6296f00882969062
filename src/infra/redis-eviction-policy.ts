import { once } from 'node:events';
import type { Logger } from '../logging/logger';
import { serversOf, type RedisClient } from './redis-connection';

async function untilReady(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') return;
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

/**
 * Reads Redis's `maxmemory-policy`: of the one server, or of every master of a cluster, each of
 * which decides alone what it evicts. Any policy but `noeviction` lets Redis silently drop
 * queue keys under memory pressure, which loses jobs (the reconciler would re-queue the runs,
 * but a scheduler or a flow's bookkeeping could vanish). Returns the first master's policy that
 * is not `noeviction` (else `noeviction`), or `null` when a server refuses `CONFIG GET` (managed
 * Redis often does).
 */
export async function readEvictionPolicy(redis: RedisClient): Promise<string | null> {
  try {
    await untilReady(redis);
    const servers = serversOf(redis);
    if (servers.length === 0) return null;
    const policies = await Promise.all(
      servers.map(async (server) => {
        const reply = (await server.config('GET', 'maxmemory-policy')) as unknown;
        return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null;
      }),
    );
    if (policies.includes(null)) return null;
    return policies.find((policy) => policy !== 'noeviction') ?? 'noeviction';
  } catch {
    return null;
  }
}

/** Warns loudly at start-up unless Redis (every master of a cluster) is set to `noeviction`. */
export async function warnUnlessNoEviction(redis: RedisClient, logger: Logger): Promise<void> {
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
