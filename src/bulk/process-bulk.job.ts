import type { FlowProducer, Job } from 'bullmq';
import { AppError } from '../errors/app-error';
import type { KeyedLock } from '../infra/redis-lock';
import type { Logger } from '../logging/logger';
import type { BulkDeactivation } from '../models/bulk-deactivation.model';
import type { Models } from '../models/create-models';
import type { BulkJobData } from '../queues/bulk-queue';
import { recordBulkCompleted } from '../webhooks/webhook-facts';
import { bulkBatchSize } from './bulk-selection';
import { countBulkItems, type BulkTotals } from './count-bulk-items';
import { processBulkBatch } from './process-bulk-batch';

/** How a bulk ended, for whoever started it (a sweep records it in its report). */
export interface BulkOutcome {
  /** The bulk as it was when the job took it up. */
  bulk: BulkDeactivation;
  totals: BulkTotals;
  finishedAt: Date;
}

/** What the bulk job needs. */
export interface BulkJobDeps {
  models: Models;
  flows: FlowProducer;
  /** Accepting admins takes the organization's admin lock, as a single request does. */
  locks: KeyedLock;
  logger: Logger;
  /**
   * Called once, when the job has marked the bulk `completed`: the bulk module knows nothing of
   * who started the bulk, the composition root passes what records the outcome.
   */
  onFinished?: ((outcome: BulkOutcome) => Promise<void>) | undefined;
}

/** Recounts the totals from the items and marks the bulk `completed`. */
async function finishBulk(models: Models, bulkId: string): Promise<Omit<BulkOutcome, 'bulk'>> {
  const totals = await countBulkItems(models, bulkId);
  const finishedAt = new Date();
  await models.bulkDeactivations.updateOne(
    { _id: bulkId },
    { $set: { ...totals, status: 'completed', finishedAt } },
  );
  return { totals, finishedAt };
}

/**
 * Works through a bulk's frozen selection a batch at a time ({@link processBulkBatch}).
 * Progress goes to the job and the bulk document. After a crash the job resumes where the items
 * say, and the runs' unique claims keep anyone from getting a second run. At the end the
 * totals are recounted from the items and handed to `onFinished`.
 */
export async function processBulkJob(job: Job<BulkJobData>, deps: BulkJobDeps): Promise<unknown> {
  const { models, logger } = deps;
  const { bulkId } = job.data;
  const bulk = await models.bulkDeactivations.findById(bulkId).lean();
  if (!bulk) throw new AppError('bulk_not_found', `Bulk deactivation ${bulkId} does not exist`);
  if (bulk.status === 'completed' || bulk.status === 'held') return { bulkId, status: bulk.status };
  await models.bulkDeactivations.updateOne(
    { _id: bulkId },
    { $set: { status: 'running', startedAt: bulk.startedAt ?? new Date() } },
  );

  const batches = Math.ceil(bulk.matched / bulkBatchSize);
  for (let batch = 0; batch < batches; batch += 1) {
    const processed = await processBulkBatch(deps, bulk, batch);
    if (processed !== null) await job.updateProgress({ processed, matched: bulk.matched });
  }

  const { totals, finishedAt } = await finishBulk(models, bulkId);
  await recordBulkCompleted(models, bulkId);
  await deps.onFinished?.({ bulk, totals, finishedAt });
  logger.info({ bulkId, ...totals }, 'bulk deactivation finished');
  return { bulkId, status: 'completed', ...totals };
}
