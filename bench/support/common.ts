import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import type { Connection } from 'mongoose';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { connectMongo } from '../../src/infra/mongo-connection';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { createModels, ensureIndexes, type Models } from '../../src/models/create-models';
import { deletePrefix as deleteKeysUnder } from '../../test-kit/redis-keys';

/** The configuration the service processes would get: local defaults or MONGO_URL / REDIS_URL. */
export const benchConfig: AppConfig = loadConfig(process.env);

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export const newTag = (): string => randomBytes(3).toString('hex');

/** The configured store's URL with `dbName` as its database. */
export function mongoUrlFor(dbName: string): string {
  const url = new URL(benchConfig.mongoUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}

/** A fresh database of the bench's own, with the service's indexes; `drop` removes it. */
export interface BenchStore {
  dbName: string;
  url: string;
  mongo: Connection;
  models: Models;
  drop: () => Promise<void>;
}

export async function openStore(dbName: string): Promise<BenchStore> {
  const url = mongoUrlFor(dbName);
  const mongo = await connectMongo(url, { dbName });
  // A leftover of an interrupted run would not be fresh.
  await mongo.dropDatabase();
  const models = createModels(mongo);
  await ensureIndexes(models);
  return {
    dbName,
    url,
    mongo,
    models,
    drop: async () => {
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}

/**
 * Measures offboard and its floor `samples` times each, alternating (offboard, floor,
 * offboard, …), so a slow spell of the shared machine lands on both sides rather than on one.
 */
export async function alternate<O, F>(
  samples: number,
  offboard: (sample: number) => Promise<O>,
  floor: (sample: number) => Promise<F>,
): Promise<{ offboard: O[]; floor: F[] }> {
  const result: { offboard: O[]; floor: F[] } = { offboard: [], floor: [] };
  for (let sample = 0; sample < samples; sample += 1) {
    result.offboard.push(await offboard(sample));
    result.floor.push(await floor(sample));
  }
  return result;
}

/** Runs `body` with the plain mongodb driver connected to `store`'s database. */
export async function withDriver<T>(store: BenchStore, body: (db: Db) => Promise<T>): Promise<T> {
  const client = await MongoClient.connect(store.url);
  try {
    return await body(client.db(store.dbName));
  } finally {
    await client.close();
  }
}

/**
 * Deletes every key under `prefix:` and its queues' own prefixes, on every master of a cluster
 * (the shared Redis is left as it was found).
 */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = createRedisConnection(redisUrl, 'worker');
  try {
    await deleteKeysUnder(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/** Polls `probe` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  probe: () => Promise<boolean>,
  what: string,
  timeoutMs = 600_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
