import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Connection } from 'mongoose';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { hashTagOf } from '../../src/config/redis-target';
import { connectMongo } from '../../src/infra/mongo-connection';
import {
  createRedisConnection,
  serversOf,
  type RedisClient,
} from '../../src/infra/redis-connection';
import { createModels, ensureIndexes, type Models } from '../../src/models/create-models';
import { queuePrefixesOf } from '../../src/queues/queue-names';

/** The store and Redis the suite runs against: the local stack unless the URLs say otherwise. */
export const mongoUrl = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017/offboard';
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * Where browser tests save their screenshots: the README's `docs/images` only when asked
 * (`UPDATE_DOC_IMAGES=1 npx jest test/e2e/admin-console.test.ts`), so a test run leaves the
 * committed images alone; otherwise the git-ignored `test-artifacts`.
 */
export const screenshotDir =
  process.env.UPDATE_DOC_IMAGES === '1' ? 'docs/images' : 'test-artifacts/screenshots';

/**
 * The suite runs on a Redis Cluster when `REDIS_URL` is `redis+cluster://` (`.ci/run`'s cluster
 * step); the tests that start private Redis servers keep doing so either way.
 */
export const onCluster = redisUrl.startsWith('redis+cluster://');

/** A short random name, unique per test file, usable as a database name and queue prefix. */
export function uniqueName(tag: string): string {
  return `t_${tag.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

/**
 * A unique queue prefix that is a hash tag (`{t_q_1a2b3c4d}`), as a Redis Cluster needs: a
 * flow's queues then share one slot. Works on a single server alike.
 */
export function uniquePrefix(tag: string): string {
  return `{${uniqueName(tag)}}`;
}

/** A parsed config for a test: its own queue prefix, silent logs. */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  return loadConfig({
    MONGO_URL: mongoUrl,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'silent',
    QUEUE_PREFIX: uniquePrefix('q'),
    ...overrides,
  });
}

/** A database of the test file's own, with every index; `close` drops it. */
export interface TestStore {
  mongo: Connection;
  models: Models;
  dbName: string;
  close: () => Promise<void>;
}

/** `url` reaches the same store another way (through a fault-injecting proxy). */
export async function openTestStore(tag: string, url: string = mongoUrl): Promise<TestStore> {
  const dbName = uniqueName(tag);
  const mongo = await connectMongo(url, { dbName });
  const models = createModels(mongo);
  await ensureIndexes(models);
  return {
    mongo,
    models,
    dbName,
    close: async () => {
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}

/** A plain (retrying) Redis or Redis Cluster client for assertions; the caller quits it. */
export function openTestRedis(): RedisClient {
  return createRedisConnection(redisUrl, 'worker');
}

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

/** This process's environment with `overrides`, for a child process a test starts. */
export function childEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
