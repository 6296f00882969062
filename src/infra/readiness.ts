import type { Redis } from 'ioredis';
import type { Connection } from 'mongoose';

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

/** Pings MongoDB and Redis in parallel, each bounded by `timeoutMs`. */
export async function checkReadiness(
  mongo: Connection,
  redis: Redis,
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
    check(() => redis.ping(), 'Redis', timeoutMs),
  ]);
  return { ready: mongodb === 'ok' && redisCheck === 'ok', checks: { mongodb, redis: redisCheck } };
}
