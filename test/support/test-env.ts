import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { connectMongo } from '../../src/infra/mongo-connection';
import { createRedisConnection, type RedisClient } from '../../src/infra/redis-connection';
import { createModels, ensureIndexes, type Models } from '../../src/models/create-models';

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

/** This process's environment with `overrides`, for a child process a test starts. */
export function childEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
