import type { Queue } from 'bullmq';
import type { Logger } from '../logging/logger';
import type { BulkDeactivation } from '../models/bulk-deactivation.model';
import type { Models } from '../models/create-models';
import { bulkJobId, enqueueBulk } from '../queues/bulk-queue';
import { isLiveJobState } from '../queues/live-job-states';
import { markBulkFailed, type BulkJobDeps } from './process-bulk.job';

/** What the bulk reconciler needs. */
export interface ReconcileBulksDeps {
  models: Models;
  bulkQueue: Queue;
  logger: Logger;
  /** As the bulk job's own `onFailed`: the composition root passes what records a failure. */
  onFailed?: BulkJobDeps['onFailed'];
}

/**
 * Finds the bulks that are pending or running in MongoDB with no live job in Redis. One with no
 * job at all (a failed enqueue, or a Redis that lost its data) is queued again: the job resumes
 * from the items, as after a crash. One whose job failed for good without marking it (BullMQ
 * failed the job itself for stalling too often, or the store was away when the job tried) is
 * marked `failed` with the job's reason, as the job would have. Held bulks wait for an admin;
 * bulks younger than `graceMs` are left to whoever is queueing them.
 */
export async function reconcileBulks(
  deps: ReconcileBulksDeps,
  options: { graceMs?: number; now?: Date } = {},
): Promise<{ checked: number; requeued: number; failed: number }> {
  const { models, bulkQueue, logger } = deps;
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - (options.graceMs ?? 30_000));
  const counts = { checked: 0, requeued: 0, failed: 0 };
  // One equality query per status, not one `$in` (see src/store/per-key-queries.ts).
  for (const status of ['pending', 'running'] as const) {
    const bulks = await models.bulkDeactivations
      .find({ status, createdAt: { $lt: cutoff } })
      .lean();
    for (const bulk of bulks) {
      counts.checked += 1;
      const job = await bulkQueue.getJob(bulkJobId(bulk._id));
      const state = job ? await job.getState() : null;
      if (state !== null && isLiveJobState(state)) continue;
      if (job && state === 'failed') {
        if (await markFailed(deps, bulk, job.failedReason || 'the job failed')) counts.failed += 1;
        continue;
      }
      // No job, or one that ended without ending the bulk: a finished job's id would make the
      // new one a no-op, so it goes first.
      if (job) await job.remove();
      await enqueueBulk(bulkQueue, bulk);
      counts.requeued += 1;
      logger.info({ bulkId: bulk._id }, 're-queued a bulk that had no live job');
    }
  }
  return counts;
}

async function markFailed(
  deps: ReconcileBulksDeps,
  bulk: BulkDeactivation,
  reason: string,
): Promise<boolean> {
  // A reason the job's own error gave (`code: message`, see toJobError) keeps its code; BullMQ's
  // own (a stalled job) gets `internal`.
  const error = /^[a-z_]+: /.test(reason) ? reason : `internal: ${reason}`;
  if (!(await markBulkFailed(deps, { bulk, error, finishedAt: new Date() }))) return false;
  deps.logger.warn({ bulkId: bulk._id }, 'marked failed a bulk whose job had failed for good');
  return true;
}
