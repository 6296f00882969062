import { Cluster } from 'ioredis';
import { hashTagOf } from '../src/config/redis-target';
import { serversOf, type RedisClient } from '../src/infra/redis-connection';
import { queuePrefixesOf } from '../src/queues/queue-names';

/**
 * Every key under a queue prefix and the prefixes of its queues with slots of their own: a
 * SCAN of each server (each master of a cluster, since a SCAN sees only its node's keys).
 */
export async function keysUnder(redis: RedisClient, prefix: string): Promise<string[]> {
  // A cluster client knows its masters only once connected: a fresh one lists none.
  await redis.ping();
  const keys: string[] = [];
  for (const server of serversOf(redis)) {
    for (const queuePrefix of queuePrefixesOf(prefix)) {
      let cursor = '0';
      do {
        const [next, batch] = await server.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
    }
  }
  return keys;
}

/** Deletes every key under a queue prefix (test clean-up). */
export async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  // On a cluster a multi-key DEL must stay within one slot: keys are deleted in groups that
  // share a {tag}, an untagged key alone.
  const single = serversOf(redis).length === 1 && !(redis instanceof Cluster);
  const groups = new Map<string, string[]>();
  for (const key of await keysUnder(redis, prefix)) {
    const group = single ? '' : (hashTagOf(key) ?? key);
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  for (const keys of groups.values()) {
    for (let start = 0; start < keys.length; start += 500) {
      await redis.del(...keys.slice(start, start + 500));
    }
  }
}
