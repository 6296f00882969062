import { FlowProducer, Queue, Worker, type BackoffStrategy } from 'bullmq';
import type { AppConfig } from '../config/config';
import { completeRunJob, runStepJob } from '../deactivation/deactivation-flow.job';
import { AppError } from '../errors/app-error';
import { createRedisConnection, type RedisClient } from '../infra/redis-connection';
import { createRedisLock, type KeyedLock } from '../infra/redis-lock';
import { createErrorIncidentLog, type ErrorIncidentLog } from '../logging/error-incident-log';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import { jobKind } from '../queues/job-ids';
import { jobKinds } from '../queues/job-kinds';
import { queueNames, queuePrefixFor, type QueueName } from '../queues/queue-names';
import { eraseUserJob } from './erasure/erase-user.job';
import { toJobError } from './job-error';
import {
  assertRegistryComplete,
  buildJobRegistry,
  declaredKinds,
  jobFor,
  type JobRegistry,
} from './job-registry';
import { expireIdempotencyRecordsJob } from './maintenance/expire-idempotency-records.job';
import { reconcileRunsJob } from './maintenance/reconcile-runs.job';
import { processBulkJob, type BulkFailure } from '../bulk/process-bulk.job';
import { reconcileBulks } from '../bulk/reconcile-bulks';
import { recordSweepFailure, recordSweepOutcome } from '../sweeps/record-sweep-outcome';
import { runSweepJob } from '../sweeps/run-sweep.job';
import { startSchedulerUpkeep } from './scheduler-upkeep';
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

/** Every job kind each queue carries (src/queues/job-kinds.ts); a worker without a handler for one refuses to start. */
export const declaredJobs = declaredKinds(jobKinds);

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
  // A failed bulk (its job's last attempt, or the reconciler) fails its sweep's report with it.
  const onBulkFailed = (failure: BulkFailure): Promise<void> => recordSweepFailure(models, failure);
  const step = (job: Parameters<typeof runStepJob>[0]): Promise<unknown> =>
    runStepJob(job, { models, logger, metrics, locks });
  return buildJobRegistry(jobKinds, {
    [queueNames.runs]: {
      deactivate: (job, token) => completeRunJob(job, { models, logger, metrics }, token),
    },
    [queueNames.steps]: {
      'revoke-tokens': step,
      'cancel-subscriptions': step,
      'transfer-opportunities': step,
      'remove-from-teams': step,
      'blocklist-email': step,
    },
    [queueNames.erasures]: { erase: (job) => eraseUserJob(job, { models, logger }) },
    [queueNames.bulk]: {
      bulk: (job) =>
        processBulkJob(job, {
          models,
          flows,
          locks,
          logger,
          onFinished: (outcome) => recordSweepOutcome(models, outcome),
          onFailed: onBulkFailed,
        }),
    },
    [queueNames.sweeps]: { sweep: (job) => runSweepJob(job, { models, bulkQueue, logger }) },
    [queueNames.webhooks]: { deliver: webhooks.deliver },
    [queueNames.maintenance]: {
      'expire-idempotency-records': () => expireIdempotencyRecordsJob(models),
      'reconcile-runs': async () => ({
        ...(await reconcileRunsJob(
          { models, flows, runsQueue, logger },
          { graceMs: config.reconcileGraceMs },
        )),
        webhooks: await webhooks.reconcile(config.reconcileGraceMs),
        bulks: await reconcileBulks(
          { models, bulkQueue, logger, onFailed: onBulkFailed },
          { graceMs: config.reconcileGraceMs },
        ),
      }),
    },
  });
}

/** The queues this process serves: all, or those `WORKER_QUEUES` names (all of them known). */
function servedQueues(config: AppConfig, registry: JobRegistry): QueueName[] {
  const unknown = (config.workerQueues ?? []).filter((queue) => !(queue in registry));
  if (unknown.length > 0) {
    throw new AppError(
      'config_invalid',
      `WORKER_QUEUES names unknown queues: ${unknown.join(', ')}`,
    );
  }
  return (Object.keys(registry) as QueueName[]).filter(
    (queue) => config.workerQueues === null || config.workerQueues.includes(queue),
  );
}

/**
 * A worker on `queue`: finds the job's entry by its kind (the data is parsed there), and turns
 * what the handler throws into a BullMQ signal (src/workers/job-error.ts).
 */
function startWorker(
  queue: QueueName,
  registry: JobRegistry,
  shared: {
    connection: RedisClient;
    config: AppConfig;
    errors: ErrorIncidentLog;
    /** The custom backoff strategies (the webhooks queue's). */
    backoffStrategy: BackoffStrategy;
  },
): Worker {
  const { connection, config, errors, backoffStrategy } = shared;
  const worker = new Worker(
    queue,
    async (job, token) => {
      try {
        return await jobFor(registry, queue, job, jobKind(job.name)).run(job, token);
      } catch (error) {
        throw toJobError(error);
      }
    },
    {
      connection,
      prefix: queuePrefixFor(config.queuePrefix, queue),
      concurrency: config.workerConcurrency,
      lockDuration: config.workerLockDurationMs,
      stalledInterval: config.workerLockDurationMs,
      maxStalledCount: 5,
      settings: { backoffStrategy },
    },
  );
  errors.routeErrors(worker, 'worker', `worker:${queue}`);
  return worker;
}

/** Starts one BullMQ worker per queue, and keeps the job schedulers (see scheduler-upkeep). */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { config, logger } = deps;
  const connection = createRedisConnection(config.redisUrl, 'worker');
  const prefix = config.queuePrefix;
  const flows = new FlowProducer({ connection, prefix });
  const runsQueue = new Queue(queueNames.runs, { connection, prefix });
  const maintenance = new Queue(queueNames.maintenance, {
    connection,
    prefix: queuePrefixFor(prefix, queueNames.maintenance),
  });
  const bulkQueue = new Queue(queueNames.bulk, { connection, prefix });
  const sweepsQueue = new Queue(queueNames.sweeps, { connection, prefix });
  const locks = createRedisLock(connection, { prefix });
  const errors = createErrorIncidentLog(logger);
  errors.routeRecovery(connection, 'worker');
  errors.routeErrors(flows, 'worker', 'flow-producer');
  for (const queue of [runsQueue, maintenance, bulkQueue, sweepsQueue]) {
    errors.routeErrors(queue, 'worker', queue.name);
  }
  const webhooks = startWebhookDelivery(deps, connection);
  errors.routeErrors(webhooks.queue, 'worker', webhooks.queue.name);
  const registry = buildRegistry(deps, { flows, runsQueue, bulkQueue, locks, webhooks });
  assertRegistryComplete(registry, declaredJobs);

  const upkeep = await startSchedulerUpkeep({
    config,
    models: deps.models,
    logger,
    metrics: deps.metrics,
    connection,
    maintenance,
    sweepsQueue,
  });

  const workers = servedQueues(config, registry).map((queue) =>
    startWorker(queue, registry, {
      connection,
      config,
      errors,
      backoffStrategy: webhooks.backoffStrategy,
    }),
  );
  logger.info(
    {
      queues: Object.keys(registry),
      concurrency: config.workerConcurrency,
      schedulerCheckIntervalMs: config.schedulerCheckIntervalMs,
    },
    'workers started',
  );

  return {
    close: async () => {
      upkeep.stop();
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
