import type { AppConfig } from '../../src/config/config';
import { FlowProducer, type Queue } from 'bullmq';
import type { DeactivationRequest } from '../../src/deactivation/assess-deactivation';
import { requestDeactivation } from '../../src/deactivation/request-deactivation';
import { runJobId } from '../../src/queues/job-ids';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { createRedisLock, type KeyedLock } from '../../src/infra/redis-lock';
import { createLogger, type Logger } from '../../src/logging/logger';
import { createServiceMetrics, type ServiceMetrics } from '../../src/metrics/service-metrics';
import type { Models } from '../../src/models/create-models';
import type { Deactivation, RunStatus } from '../../src/models/deactivation.model';
import { startWorkers } from '../../src/workers/start-workers';
import { deletePrefix } from '../../test-kit/redis-keys';
import { redisUrl, testConfig, uniquePrefix, type TestStore } from './test-env';
import type { RedisClient } from '../../src/infra/redis-connection';

/**
 * Polls MongoDB until the run reaches `status`; returns the run as stored then. Fails with the
 * last state seen, so a stuck run says where it stopped.
 */
export async function waitForRunStatus(
  models: Models,
  runId: string,
  status: RunStatus,
  timeoutMs = 20_000,
): Promise<Deactivation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await models.deactivations.findById(runId).lean();
    if (last?.status === status) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `run ${runId} did not reach "${status}": ${JSON.stringify(
          last ? { status: last.status, steps: last.steps } : null,
        )}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Polls until the run's parent job has finished in BullMQ: the job marks the run completed in
 * MongoDB a moment before BullMQ moves it to `completed`.
 */
export async function waitForRunJobFinished(
  runsQueue: Queue,
  runId: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await (await runsQueue.getJob(runJobId(runId)))?.getState();
    if (state === 'completed' || state === 'failed') return;
    if (Date.now() > deadline) throw new Error(`run job of ${runId} is still ${String(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Real workers on the test store, under the config's own queue prefix. */
export async function startTestWorkers(
  store: Pick<TestStore, 'models'>,
  configOverrides: Record<string, string> = {},
  observe: { metrics?: ServiceMetrics; logger?: Logger } = {},
): Promise<{ config: AppConfig; close: () => Promise<void> }> {
  const config = testConfig({
    WORKER_CONCURRENCY: '4',
    RECONCILE_INTERVAL_MS: '60000',
    ...configOverrides,
  });
  const workers = await startWorkers({
    config,
    models: store.models,
    logger: observe.logger ?? createLogger({ logLevel: 'silent' }),
    metrics: observe.metrics ?? createServiceMetrics([]),
  });
  return { config, close: workers.close };
}

/**
 * A real producer whose flows no worker ever takes (a queue prefix of its own), and the lock
 * acceptance needs: for tests that accept runs through the real path and run the steps
 * themselves, or leave the runs pending. `close` deletes the prefix's keys.
 */
export interface IdleProducer {
  prefix: string;
  /** The producer's own (fail-fast) connection, for queues opened on `prefix`. */
  connection: RedisClient;
  flows: FlowProducer;
  locks: KeyedLock;
  close: () => Promise<void>;
}

export function openIdleProducer(): IdleProducer {
  const prefix = uniquePrefix('idle');
  const connection = createRedisConnection(redisUrl, 'producer');
  const flows = new FlowProducer({ connection, prefix });
  return {
    prefix,
    connection,
    flows,
    locks: createRedisLock(connection, { prefix }),
    close: async () => {
      await flows.close();
      await deletePrefix(connection, prefix);
      connection.disconnect();
    },
  };
}

/**
 * Accepts a deactivation through `requestDeactivation` itself (checks, run written, user
 * switched to inactive, flow added) on an idle producer, so no worker runs it: for tests that
 * call the steps themselves. `now` and `runId` are the caller's, so two databases can hold
 * identical runs.
 */
export function acceptWithoutWorkers(
  models: Models,
  idle: IdleProducer,
  request: DeactivationRequest,
  now: Date,
  runId: string,
): Promise<Deactivation> {
  return requestDeactivation({ models, flows: idle.flows, locks: idle.locks }, request, {
    now,
    runId,
  });
}
