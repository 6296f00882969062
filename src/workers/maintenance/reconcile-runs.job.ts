import type { FlowProducer, Queue } from 'bullmq';
import type { Logger } from '../../logging/logger';
import type { Models } from '../../models/create-models';
import type { Deactivation } from '../../models/deactivation.model';
import { enqueueRun } from '../../deactivation/deactivation-flow.job';
import { runJobId } from '../../queues/job-ids';
import { isLiveJobState } from '../../queues/live-job-states';
import { completeRequestedErasures } from '../erasure/complete-requested-erasures';
import { reconcileErasures } from '../erasure/reconcile-erasures';

/** What the reconciler needs. */
export interface ReconcileDeps {
  models: Models;
  flows: FlowProducer;
  runsQueue: Queue;
  logger: Logger;
}

/**
 * Re-queues runs that are pending or running in MongoDB but have no live job in Redis: after a
 * failed enqueue, or a Redis restart that lost its data. Job ids are derived from the run id,
 * so a run that is in fact still queued is not added twice. Runs younger than `graceMs` are left
 * to the request that is still enqueueing them.
 */
export async function reconcileRuns(
  deps: ReconcileDeps,
  options: { graceMs?: number; now?: Date; batch?: number } = {},
): Promise<{ checked: number; requeued: number; abandoned: number }> {
  const { models, runsQueue, flows, logger } = deps;
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - (options.graceMs ?? 30_000));
  let checked = 0;
  let requeued = 0;
  let abandoned = 0;
  // One equality query per status, not one `$in` (see src/store/per-key-queries.ts).
  const unfinished = async function* (): AsyncGenerator<Deactivation> {
    for (const status of ['pending', 'running'] as const) {
      yield* models.deactivations
        .find({ status, createdAt: { $lt: cutoff } })
        .sort({ createdAt: 1, _id: 1 })
        .limit(options.batch ?? 1_000)
        .lean()
        .cursor();
    }
  };
  for await (const run of unfinished()) {
    checked += 1;
    const job = await runsQueue.getJob(runJobId(run._id));
    if (job && isLiveJobState(await job.getState())) continue;
    if (job) await job.remove({ removeChildren: true });

    const user = await models.users.findOne({ _id: run.userId, orgId: run.orgId }).lean();
    if (run.status === 'pending' && user?.deactivationId !== run._id) {
      // The accepting request stopped between writing the run and switching the user; its
      // caller never got a 202, so the run is closed rather than carried out behind its back.
      await models.deactivations.updateOne(
        { _id: run._id, status: 'pending' },
        {
          $set: {
            status: 'failed',
            error: 'abandoned: the request that created this run did not finish',
            // Frees the user's claim so a new request can be accepted.
            claim: `${run.claim}/abandoned/${run._id}`,
          },
        },
      );
      abandoned += 1;
      continue;
    }
    await enqueueRun(flows, run);
    requeued += 1;
    logger.info({ runId: run._id }, 're-queued a run that had no live job');
  }
  return { checked, requeued, abandoned };
}

/**
 * The `reconcile-runs` job of the `maintenance` queue: re-queues lost runs, then lost erasures
 * (src/workers/erasure/reconcile-erasures.ts), then erases the users deleted over SCIM whose
 * deactivation has completed since (src/workers/erasure/complete-requested-erasures.ts).
 */
export async function reconcileRunsJob(
  deps: ReconcileDeps,
  options: { graceMs: number },
): Promise<{
  runs: Awaited<ReturnType<typeof reconcileRuns>>;
  erasures: { requeued: number };
  scimDeletions: { erased: number };
}> {
  return {
    runs: await reconcileRuns(deps, options),
    erasures: await reconcileErasures(deps),
    scimDeletions: await completeRequestedErasures(deps),
  };
}
