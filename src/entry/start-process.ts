import type { Connection } from 'mongoose';
import { createMetricsApp } from '../api/admin/metrics-app';
import { createAppFromConfig } from '../api/app';
import { loadConfig, type AppConfig } from '../config/config';
import { seedDemo } from '../demo/seed-demo';
import { connectMongo, reopenMongo } from '../infra/mongo-connection';
import { createRedisConnection, type RedisClient } from '../infra/redis-connection';
import { warnUnlessNoEviction } from '../infra/redis-eviction-policy';
import { watchStoreMonitor, type StoreMonitorWatchdog } from '../infra/store-monitor-watchdog';
import { createLogger, type Logger } from '../logging/logger';
import { createServiceMetrics, type ServiceMetrics } from '../metrics/service-metrics';
import { createModels, ensureIndexes, type Models } from '../models/create-models';
import { createProducers, type Producers } from '../queues/producers';
import { startWorkers } from '../workers/start-workers';
import { closeServer, listen } from './http-server';
import { installShutdown, type Closable } from './shutdown';

/** Which parts of the service this process runs. */
export interface ProcessRoles {
  api: boolean;
  workers: boolean;
}

async function seedIfEmpty(models: Models, logger: Logger): Promise<void> {
  if ((await models.organizations.estimatedDocumentCount()) > 0) return;
  const seeded = await seedDemo(models);
  if (!seeded) return;
  const { apiKey, ...counts } = seeded;
  logger.info(counts, 'the store was empty: seeded the demo organization');
  // The key goes to standard output, never into the log stream.
  process.stdout.write(`\nDemo API key for ${seeded.orgId} (shown once): ${apiKey ?? ''}\n\n`);
}

/** The stores and queues every process role shares. */
interface Stores {
  mongo: Connection;
  models: Models;
  redis: RedisClient;
  producers: Producers;
  metrics: ServiceMetrics;
  storeWatchdog: StoreMonitorWatchdog;
}

/** Connects to MongoDB (indexes, the demo seed if asked) and Redis, and opens the queues. */
async function connectStores(config: AppConfig, logger: Logger): Promise<Stores> {
  const mongoOptions = { maxPoolSize: config.mongoMaxPoolSize };
  const mongo = await connectMongo(config.mongoUrl, mongoOptions);
  const models = createModels(mongo);
  await ensureIndexes(models);
  // Only when asked (SEED_DEMO_ON_EMPTY=true): the demo comes with a key for every scope.
  if (config.seedDemoOnEmpty) await seedIfEmpty(models, logger);

  // The producers' fail-fast connection: the API enqueues on it, and every process reads
  // queue depths for its metrics from it.
  const redis = createRedisConnection(config.redisUrl, 'producer');
  const producers = createProducers(redis, config.queuePrefix, logger);
  const metrics = createServiceMetrics(producers.queues);
  const storeWatchdog = watchStoreMonitor(
    mongo,
    () => reopenMongo(mongo, config.mongoUrl, mongoOptions),
    {
      logger,
      onReopened: () => {
        metrics.storeClientsReplaced.inc();
      },
    },
  );
  await warnUnlessNoEviction(redis, logger);
  return { mongo, models, redis, producers, metrics, storeWatchdog };
}

/** Starts the API (or, without it, the metrics server) and the workers; returns their closers. */
async function startRoles(
  roles: ProcessRoles,
  config: AppConfig,
  stores: Stores,
  logger: Logger,
): Promise<Closable[]> {
  const { mongo, models, redis, producers, metrics } = stores;
  const closables: Closable[] = [];
  if (roles.api) {
    const app = createAppFromConfig(config, { mongo, models, redis, producers, metrics, logger });
    const server = await listen(app, config.port);
    logger.info({ port: config.port, dashboard: config.dashboard !== null }, 'api listening');
    closables.push({ name: 'http server', close: () => closeServer(server) });
  } else if (config.metricsPort !== null) {
    const app = createMetricsApp({
      dashboard: config.dashboard,
      models,
      metrics,
      redis,
      security: config.security,
      queuePrefix: config.queuePrefix,
    });
    const server = await listen(app, config.metricsPort);
    logger.info({ port: config.metricsPort }, 'metrics listening');
    closables.push({ name: 'metrics server', close: () => closeServer(server) });
  }
  if (roles.workers) {
    const workers = await startWorkers({ config, models, logger, metrics });
    closables.push({ name: 'workers', close: () => workers.close() });
  }
  return closables;
}

/** The stores' closers, to run after the roles that use them. */
function storeClosables({ mongo, redis, producers, storeWatchdog }: Stores): Closable[] {
  return [
    {
      name: 'producer redis',
      close: async () => {
        await producers.close();
        redis.disconnect();
      },
    },
    {
      name: 'mongodb',
      close: () => {
        storeWatchdog.stop();
        return mongo.close();
      },
    },
  ];
}

/** The composition root of every long-running entry point. */
export async function startProcess(roles: ProcessRoles): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config);
  try {
    const stores = await connectStores(config, logger);
    const closables = [
      ...(await startRoles(roles, config, stores, logger)),
      ...storeClosables(stores),
    ];
    installShutdown(closables, logger, config.shutdownTimeoutMs);
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
}
