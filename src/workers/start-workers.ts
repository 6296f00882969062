import { Queue, Worker } from 'bullmq';
import type { AppConfig } from '../config/config';
import { createRedisConnection } from '../infra/redis-connection';
import type { Logger } from '../logging/logger';
import type { Models } from '../models/create-models';
import { queueNames, type QueueName } from '../queues/queue-names';
import { toJobError } from './job-error';
import { assertRegistryComplete, handlerFor, type JobRegistry } from './job-registry';
import { expireIdempotencyRecords } from './maintenance/expire-idempotency-records.job';

/** What the workers need; built by the entry point's composition root. */
export interface WorkerDeps {
  config: AppConfig;
  models: Models;
  logger: Logger;
}

/** The running workers of this process. */
export interface RunningWorkers {
  /** Stops taking jobs, waits for active ones, then closes the Redis connections. */
  close: () => Promise<void>;
}

const maintenanceJobs = ['expire-idempotency-records'] as const;

function buildRegistry(deps: WorkerDeps): JobRegistry {
  return {
    [queueNames.maintenance]: {
      'expire-idempotency-records': () => expireIdempotencyRecords(deps.models),
    },
  };
}

/** Starts one BullMQ worker per queue of the registry and the periodic maintenance jobs. */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const registry = buildRegistry(deps);
  assertRegistryComplete(registry, { [queueNames.maintenance]: maintenanceJobs });
  const { config, logger } = deps;
  const connection = createRedisConnection(config.redisUrl, 'worker');

  const maintenance = new Queue(queueNames.maintenance, { connection, prefix: config.queuePrefix });
  await maintenance.upsertJobScheduler(
    'expire-idempotency-records',
    { every: 60 * 60 * 1000 },
    { name: 'expire-idempotency-records', opts: { removeOnComplete: 10, removeOnFail: 100 } },
  );

  const workers = (Object.keys(registry) as QueueName[]).map((queue) => {
    const worker = new Worker(
      queue,
      async (job) => {
        try {
          return await handlerFor(registry, queue, job)(job);
        } catch (error) {
          throw toJobError(error);
        }
      },
      { connection, prefix: config.queuePrefix, concurrency: config.workerConcurrency },
    );
    worker.on('failed', (job, error) => {
      logger.warn(
        { queue, jobId: job?.id, jobName: job?.name, error: error.message },
        'job failed',
      );
    });
    worker.on('error', (error) => {
      logger.error({ queue, error: error.message }, 'worker error');
    });
    return worker;
  });
  logger.info({ queues: Object.keys(registry) }, 'workers started');

  return {
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
      await maintenance.close();
      connection.disconnect();
    },
  };
}
