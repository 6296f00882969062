import type { AppConfig } from '../../src/config/config';
import {
  assessDeactivation,
  type DeactivationRequest,
} from '../../src/deactivation/assess-deactivation';
import { newRun } from '../../src/deactivation/request-deactivation';
import { createLogger, type Logger } from '../../src/logging/logger';
import { createServiceMetrics, type ServiceMetrics } from '../../src/metrics/service-metrics';
import type { Models } from '../../src/models/create-models';
import type { Deactivation, RunStatus } from '../../src/models/deactivation.model';
import { startWorkers } from '../../src/workers/start-workers';
import { testConfig, type TestStore } from './test-env';

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
 * Accepts a deactivation the way `requestDeactivation` does (checks, run written, user
 * switched to inactive) without queueing anything: for tests that call the steps themselves.
 * `now` and `runId` are the caller's, so two databases can hold identical runs.
 */
export async function acceptWithoutQueue(
  models: Models,
  request: DeactivationRequest,
  now: Date,
  runId: string,
): Promise<Deactivation> {
  const { user, plan } = await assessDeactivation(models, request, now);
  const run = newRun(request, user, plan, now, runId);
  await models.deactivations.insertMany([run]);
  const flipped = await models.users.updateOne(
    { _id: user._id, orgId: request.orgId, status: 'active' },
    {
      $set: {
        status: 'inactive',
        deactivatedAt: now,
        deactivatedBy: request.actorId,
        deactivationId: run._id,
        allowReactivationOnPurchase: plan.allowReactivationOnPurchase,
      },
    },
  );
  if (flipped.modifiedCount !== 1) throw new Error(`user ${user._id} was not active`);
  return run;
}
