import type { Connection } from 'mongoose';
import { serversOf, type RedisClient } from './redis-connection';

/** The outcome of asking each dependency whether it answers. */
export interface Readiness {
  ready: boolean;
  /** `ok`, or what went wrong. */
  checks: { mongodb: string; redis: string };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

async function check(
  probe: () => Promise<unknown>,
  what: string,
  timeoutMs: number,
): Promise<string> {
  try {
    await withTimeout(probe(), timeoutMs, what);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Pings the one Redis server, or every master of a cluster: the queues' slot may live on any of
 * them, and a master that is down (before its replica takes over) makes the process unready.
 */
async function pingEveryServer(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
  const servers = serversOf(redis);
  if (servers.length === 0) throw new Error('Redis Cluster has no master');
  await Promise.all(servers.map((server) => server.ping()));
}

/** Pings MongoDB and Redis in parallel, each bounded by `timeoutMs`. */
export async function checkReadiness(
  mongo: Connection,
  redis: RedisClient,
  timeoutMs = 2_000,
): Promise<Readiness> {
  const [mongodb, redisCheck] = await Promise.all([
    check(
      async () => {
        const db = mongo.db;
        if (!db) throw new Error('MongoDB is not connected');
        await db.command({ ping: 1 });
      },
      'MongoDB',
      timeoutMs,
    ),
    check(() => pingEveryServer(redis), 'Redis', timeoutMs),
  ]);
  return { ready: mongodb === 'ok' && redisCheck === 'ok', checks: { mongodb, redis: redisCheck } };
}
