import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Connection } from 'mongoose';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { connectMongo } from '../../src/infra/mongo-connection';
import { createModels, ensureIndexes, type Models } from '../../src/models/create-models';

/** The configuration the service processes would get: local defaults or MONGO_URL / REDIS_URL. */
export const benchConfig: AppConfig = loadConfig(process.env);

/** One comparison of the table: offboard against its floor, measured in the same run. */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  offboard: number;
  floor: number;
  /** offboard ÷ floor. */
  ratio: number;
  /** `>=` for figures where more is better (throughput), `<=` for costs and times. */
  direction: '>=' | '<=';
  target: number;
  met: boolean;
}

export function row(
  scenario: string,
  metric: string,
  unit: string,
  offboard: number,
  floor: number,
  direction: '>=' | '<=',
  target: number,
): Row {
  const ratio = floor === 0 ? Number.POSITIVE_INFINITY : offboard / floor;
  return {
    scenario,
    metric,
    unit,
    offboard: round(offboard),
    floor: round(floor),
    ratio: round(ratio, 3),
    direction,
    target,
    met: direction === '>=' ? ratio >= target : ratio <= target,
  };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

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

/** Deletes every key under `prefix:` (the shared Redis is left as it was found). */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
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
