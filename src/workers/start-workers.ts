import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { AppConfig } from '../config/config';
import { AppError } from '../errors/app-error';
import { createRedisConnection } from '../infra/redis-connection';
import { createRedisLock, type KeyedLock } from '../infra/redis-lock';
import { createErrorIncidentLog } from '../logging/error-incident-log';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import { stepNames } from '../models/deactivation.model';
import type { RunJobData, StepJobData } from '../queues/deactivation-flow';
import type { ErasureJobData } from '../queues/erasure-queue';
import { jobKind } from '../queues/job-ids';
import { queueNames, type QueueName } from '../queues/queue-names';
import { processRunJob } from './deactivation/process-run-job';
import { processStepJob } from './deactivation/process-step-job';
import { reconcileRuns } from './deactivation/reconcile-runs.job';
import { processErasureJob } from './erasure/erase-user.job';
import { reconcileErasures } from './erasure/reconcile-erasures';
import { toJobError } from './job-error';
import { assertRegistryComplete, handlerFor, type JobRegistry } from './job-registry';
import { expireIdempotencyRecords } from './maintenance/expire-idempotency-records.job';
import { processBulkJob } from '../bulk/process-bulk.job';
import type { BulkJobData } from '../queues/bulk-queue';
import { runSweepJob } from '../sweeps/run-sweep.job';
import { restoreSweepSchedulers, type SweepJobData } from '../sweeps/sweep-scheduler';
import { startWebhookDelivery, type WebhookDelivery } from '../webhooks/webhook-delivery-runtime';

/** What the workers need; built by the entry point's composition root. */
export interface WorkerDeps {
  config: AppConfig;
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
}

/** The running workers of this process. */
export interface RunningWorkers {
  /** Stops taking jobs, waits for active ones, then closes the Redis connections. */
  close: () => Promise<void>;
}

/** Every job kind each queue carries; a worker without a handler for one refuses to start. */
export const declaredJobs = {
  [queueNames.runs]: ['deactivate'],
  [queueNames.steps]: stepNames,
  [queueNames.erasures]: ['erase'],
  [queueNames.bulk]: ['bulk'],
  [queueNames.sweeps]: ['sweep'],
  [queueNames.webhooks]: ['deliver'],
  [queueNames.maintenance]: ['expire-idempotency-records', 'reconcile-runs'],
} as const;

function buildRegistry(
  deps: WorkerDeps,
  queues: {
    flows: FlowProducer;
    runsQueue: Queue;
    bulkQueue: Queue;
    locks: KeyedLock;
    webhooks: WebhookDelivery;
  },
): JobRegistry {
  const { flows, runsQueue, bulkQueue, locks, webhooks } = queues;
  const { models, logger, config, metrics } = deps;
  const step = (job: Job): Promise<unknown> =>
    processStepJob(job as Job<StepJobData>, { models, logger, metrics, locks });
  return {
    [queueNames.runs]: {
      deactivate: (job, token) =>
        processRunJob(job as Job<RunJobData>, { models, logger, metrics }, token),
    },
    [queueNames.steps]: Object.fromEntries(stepNames.map((name) => [name, step])),
    [queueNames.erasures]: {
      erase: (job) => processErasureJob(job as Job<ErasureJobData>, { models, logger }),
    },
    [queueNames.bulk]: {
      bulk: (job) => processBulkJob(job as Job<BulkJobData>, { models, flows, logger }),
    },
    [queueNames.sweeps]: {
      sweep: (job) => runSweepJob(job as Job<SweepJobData>, { models, bulkQueue, logger }),
    },
    [queueNames.webhooks]: { deliver: webhooks.deliver },
    [queueNames.maintenance]: {
      'expire-idempotency-records': () => expireIdempotencyRecords(models),
      'reconcile-runs': async () => ({
        runs: await reconcileRuns(
          { models, flows, runsQueue, logger },
          { graceMs: config.reconcileGraceMs },
        ),
        erasures: await reconcileErasures({ models, flows }),
        webhooks: await webhooks.reconcile(config.reconcileGraceMs),
      }),
    },
  };
}

/** Starts one BullMQ worker per queue, and the maintenance schedulers. */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { config, logger } = deps;
  const connection = createRedisConnection(config.redisUrl, 'worker');
  const prefix = config.queuePrefix;
  const flows = new FlowProducer({ connection, prefix });
  const runsQueue = new Queue(queueNames.runs, { connection, prefix });
  const maintenance = new Queue(queueNames.maintenance, { connection, prefix });
  const bulkQueue = new Queue(queueNames.bulk, { connection, prefix });
  const sweepsQueue = new Queue(queueNames.sweeps, { connection, prefix });
  const locks = createRedisLock(connection, { prefix });
  const errors = createErrorIncidentLog(logger);
  errors.watchRecovery(connection, 'worker');
  errors.watch(flows, 'worker', 'flow-producer');
  for (const queue of [runsQueue, maintenance, bulkQueue, sweepsQueue]) {
    errors.watch(queue, 'worker', queue.name);
  }
  const webhooks = startWebhookDelivery(deps, connection);
  errors.watch(webhooks.queue, 'worker', webhooks.queue.name);
  const registry = buildRegistry(deps, { flows, runsQueue, bulkQueue, locks, webhooks });
  assertRegistryComplete(registry, declaredJobs);

  // Schedulers live in Redis. Upserting them at start and again whenever the connection comes
  // back re-creates them after Redis lost its data (a restart without persistence, a FLUSHALL),
  // so the reconciler is there to re-queue the runs that were lost with it.
  const housekeeping = { removeOnComplete: 10, removeOnFail: 100 };
  const ensureSchedulers = async (): Promise<number> => {
    await maintenance.upsertJobScheduler(
      'expire-idempotency-records',
      { every: 60 * 60 * 1000 },
      { name: 'expire-idempotency-records', opts: housekeeping },
    );
    await maintenance.upsertJobScheduler(
      'reconcile-runs',
      { every: config.reconcileIntervalMs },
      { name: 'reconcile-runs', opts: housekeeping },
    );
    return restoreSweepSchedulers(deps.models, sweepsQueue);
  };
  const sweeps = await ensureSchedulers();
  const onReconnect = (): void => {
    ensureSchedulers().catch((error: unknown) => {
      logger.warn({ err: error }, 'could not restore the job schedulers after a reconnect');
    });
  };
  connection.on('ready', onReconnect);

  const served = (Object.keys(registry) as QueueName[]).filter(
    (queue) => config.workerQueues === null || config.workerQueues.includes(queue),
  );
  const unknown = (config.workerQueues ?? []).filter((queue) => !(queue in registry));
  if (unknown.length > 0) {
    throw new AppError(
      'config_invalid',
      `WORKER_QUEUES names unknown queues: ${unknown.join(', ')}`,
    );
  }
  const workers = served.map((queue) => {
    const worker = new Worker(
      queue,
      async (job, token) => {
        try {
          return await handlerFor(registry, queue, job, jobKind(job.name))(job, token);
        } catch (error) {
          throw toJobError(error);
        }
      },
      {
        connection,
        prefix,
        concurrency: config.workerConcurrency,
        lockDuration: config.workerLockDurationMs,
        stalledInterval: config.workerLockDurationMs,
        maxStalledCount: 5,
        settings: { backoffStrategy: webhooks.backoffStrategy },
      },
    );
    errors.watch(worker, 'worker', `worker:${queue}`);
    return worker;
  });
  logger.info(
    {
      queues: Object.keys(registry),
      concurrency: config.workerConcurrency,
      sweepSchedulers: sweeps,
    },
    'workers started',
  );

  return {
    close: async () => {
      connection.off('ready', onReconnect);
      await Promise.all(workers.map((worker) => worker.close()));
      await webhooks.close();
      await Promise.all([
        flows.close(),
        runsQueue.close(),
        maintenance.close(),
        bulkQueue.close(),
        sweepsQueue.close(),
      ]);
      connection.disconnect();
    },
  };
}
