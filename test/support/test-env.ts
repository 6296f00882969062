import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Connection } from 'mongoose';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { connectMongo } from '../../src/infra/mongo-connection';
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

/** A short random name, unique per test file, usable as a database name and queue prefix. */
export function uniqueName(tag: string): string {
  return `t_${tag.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

/** A parsed config for a test: its own queue prefix, silent logs. */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  return loadConfig({
    MONGO_URL: mongoUrl,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'silent',
    QUEUE_PREFIX: uniqueName('q'),
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

/** A plain Redis client for assertions; the caller quits it. */
export function openTestRedis(): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

/** Deletes every key under a queue prefix (test clean-up). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** This process's environment with `overrides`, for a child process a test starts. */
export function childEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
