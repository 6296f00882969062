import { Redis } from 'ioredis';

/**
 * How a connection is used decides its failure behaviour:
 * - `worker`: blocking BullMQ commands; retries forever (`maxRetriesPerRequest: null`, as BullMQ
 *   requires for workers) so a Redis restart pauses work instead of crashing it.
 * - `producer`: the API's queues; fails fast while Redis is away, so a request answers 503 at
 *   once and the run already written to MongoDB is left for the reconciler.
 */
export type RedisRole = 'worker' | 'producer';

/** Creates an ioredis client for `role`. */
export function createRedisConnection(url: string, role: RedisRole): Redis {
  const retryStrategy = (attempt: number): number => Math.min(200 * attempt, 2_000);
  if (role === 'worker') {
    return new Redis(url, { maxRetriesPerRequest: null, retryStrategy });
  }
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    retryStrategy,
  });
}
