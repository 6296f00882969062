import type { FlowProducer, Queue } from 'bullmq';
import type { Express } from 'express';
import { createAppFromConfig } from '../../src/api/app';
import type { AppConfig } from '../../src/config/config';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { createLogger, type Logger } from '../../src/logging/logger';
import { createServiceMetrics, type ServiceMetrics } from '../../src/metrics/service-metrics';
import type { Models } from '../../src/models/create-models';
import { createProducers, type Producers } from '../../src/queues/producers';
import { deletePrefix } from '../../test-kit/redis-keys';
import { openTestRedis, openTestStore, testConfig, type TestStore } from './test-env';
import type { RedisClient } from '../../src/infra/redis-connection';

/** The real app of one test file, on its own database and queue prefix. No workers run. */
export interface ApiHarness {
  app: Express;
  store: TestStore;
  models: Models;
  /** The app's producer connection (fails fast; use `openTestRedis()` for assertions). */
  redis: RedisClient;
  flows: FlowProducer;
  producers: Producers;
  config: AppConfig;
  metrics: ServiceMetrics;
  /** Closes the producer and Redis, deletes the queue prefix's keys, drops the database. */
  close: () => Promise<void>;
}

/**
 * Waits until every queue has written its meta key. BullMQ writes it a moment after a queue
 * opens, without a promise to await; a test comparing Redis's keys before and after a request
 * would otherwise see it appear in between.
 */
async function queueMetasWritten(redis: RedisClient, queues: readonly Queue[]): Promise<void> {
  // The producer connection refuses commands until it is connected (no offline queue).
  await Promise.all(queues.map((queue) => queue.waitUntilReady()));
  const deadline = Date.now() + 10_000;
  for (const queue of queues) {
    // `toKey` is the queue's own key naming: prefix and name, then the key's type.
    while ((await redis.exists(queue.toKey('meta'))) === 0) {
      if (Date.now() > deadline) throw new Error(`queue ${queue.name} wrote no meta key`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Builds the app exactly as the composition root does, from `testConfig(overrides)`; its store
 * connection goes to `observe.storeUrl` when given (a proxy in front of the store).
 */
export async function openApiHarness(
  tag: string,
  overrides: Record<string, string> = {},
  observe: { logger?: Logger; storeUrl?: string } = {},
): Promise<ApiHarness> {
  const config = testConfig(overrides);
  const store = await openTestStore(tag, observe.storeUrl);
  const redis = createRedisConnection(config.redisUrl, 'producer');
  const logger = observe.logger ?? createLogger({ logLevel: 'silent' });
  const producers = createProducers(redis, config.queuePrefix, logger);
  const { flows } = producers;
  await queueMetasWritten(redis, producers.queues);
  const metrics = createServiceMetrics(producers.queues);
  const app = createAppFromConfig(config, {
    mongo: store.mongo,
    models: store.models,
    redis,
    producers,
    metrics,
    logger,
  });
  return {
    app,
    store,
    models: store.models,
    redis,
    flows,
    producers,
    config,
    metrics,
    close: async () => {
      await producers.close();
      redis.disconnect();
      const cleaner = openTestRedis();
      try {
        await deletePrefix(cleaner, config.queuePrefix);
      } finally {
        await cleaner.quit();
      }
      await store.close();
    },
  };
}
