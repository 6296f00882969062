import type { FlowProducer, Job } from 'bullmq';
import { AppError } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
import type { KeyedLock } from '../infra/redis-lock';
import type { Logger } from '../logging/logger';
import type { BulkDeactivation } from '../models/bulk-deactivation.model';
import type { Models } from '../models/create-models';
import type { BulkJobData } from '../queues/bulk-queue';
import { failureText, isLastAttempt } from '../queues/last-attempt';
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

/** How a bulk failed for good: its job's last attempt failed (see isLastAttempt). */
export interface BulkFailure {
  /** The bulk as it was when the job took it up. */
  bulk: BulkDeactivation;
  /** `code: message` of the error, as the bulk's `error` says it. */
  error: string;
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
   * Called when the job has marked the bulk `completed`, and again by any later attempt of the
   * job (one may have stopped before this ran), so it must be idempotent: the bulk module knows
   * nothing of who started the bulk, the composition root passes what records the outcome.
   */
  onFinished?: ((outcome: BulkOutcome) => Promise<void>) | undefined;
  /** Called once when the job's last attempt failed and the bulk was marked `failed`. */
  onFailed?: ((failure: BulkFailure) => Promise<void>) | undefined;
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

/** The `bulk_deactivation.completed` event, then whatever the composition root records. */
async function announceFinished(deps: BulkJobDeps, outcome: BulkOutcome): Promise<void> {
  await recordBulkCompleted(deps.models, outcome.bulk._id);
  await deps.onFinished?.(outcome);
}

/**
 * Marks a bulk that is still pending or running `failed`, with the failure's error, and hands
 * the failure to `onFailed`; returns whether it did (a bulk already completed or failed is left
 * as it is). Without it the bulk would stay `running` for good, counting against its
 * organization's cap of pending bulks. Used by the job's last attempt and by the reconciler.
 */
export async function markBulkFailed(
  deps: Pick<BulkJobDeps, 'models' | 'onFailed'>,
  failure: BulkFailure,
): Promise<boolean> {
  const marked = await deps.models.bulkDeactivations.updateOne(
    { _id: failure.bulk._id, status: { $in: ['pending', 'running'] } },
    { $set: { status: 'failed', error: failure.error, finishedAt: failure.finishedAt } },
  );
  if (marked.modifiedCount !== 1) return false;
  await deps.onFailed?.(failure);
  return true;
}

/**
 * The job's last attempt failed: {@link markBulkFailed}. Recording is best effort: the job's own
 * error is what BullMQ keeps, and a failure to record it is logged.
 */
async function recordBulkFailure(
  deps: BulkJobDeps,
  bulk: BulkDeactivation,
  error: unknown,
): Promise<void> {
  const { code } = toAppError(error);
  const failure: BulkFailure = { bulk, error: failureText(error), finishedAt: new Date() };
  try {
    if (await markBulkFailed(deps, failure)) {
      deps.logger.warn({ bulkId: bulk._id, code }, 'bulk deactivation failed');
    } else {
      // Completed already: what failed is recording the outcome (the event, the sweep's
      // report). A retry of the job records it again (see processBulkJob).
      deps.logger.error(
        { bulkId: bulk._id, code },
        'bulk deactivation completed, but its outcome could not be recorded; retry its job',
      );
    }
  } catch (recordError) {
    deps.logger.warn({ bulkId: bulk._id, err: recordError }, 'could not record the bulk failure');
  }
}

/**
 * Works through a bulk's frozen selection a batch at a time ({@link processBulkBatch}).
 * Progress goes to the job and the bulk document. After a crash the job resumes where the items
 * say, and the runs' unique claims keep anyone from getting a second run. At the end the
 * totals are recounted from the items and handed to `onFinished`. When the job's last attempt
 * fails the bulk is marked `failed` ({@link recordBulkFailure}); retrying the job (from the
 * dashboard) resumes it the same way.
 */
export async function processBulkJob(job: Job<BulkJobData>, deps: BulkJobDeps): Promise<unknown> {
  const { models, logger } = deps;
  const { bulkId } = job.data;
  const bulk = await models.bulkDeactivations.findById(bulkId).lean();
  if (!bulk) throw new AppError('bulk_not_found', `Bulk deactivation ${bulkId} does not exist`);
  if (bulk.status === 'held') return { bulkId, status: bulk.status };
  if (bulk.status === 'completed') {
    // An earlier attempt may have stopped between marking the bulk completed and recording what
    // follows: both are idempotent (one event id per bulk; the sweep's report is written once).
    const totals = {
      enqueued: bulk.enqueued,
      planned: bulk.planned,
      skipped: bulk.skipped,
      skippedByReason: bulk.skippedByReason,
      processed: bulk.processed,
    };
    await announceFinished(deps, { bulk, totals, finishedAt: bulk.finishedAt ?? new Date() });
    return { bulkId, status: bulk.status };
  }
  try {
    // A retried failed bulk resumes: it is running again, and its error is history.
    await models.bulkDeactivations.updateOne(
      { _id: bulkId },
      {
        $set: {
          status: 'running',
          startedAt: bulk.startedAt ?? new Date(),
          finishedAt: null,
          error: null,
        },
      },
    );

    const batches = Math.ceil(bulk.matched / bulkBatchSize);
    for (let batch = 0; batch < batches; batch += 1) {
      const processed = await processBulkBatch(deps, bulk, batch);
      if (processed !== null) await job.updateProgress({ processed, matched: bulk.matched });
    }

    const { totals, finishedAt } = await finishBulk(models, bulkId);
    await announceFinished(deps, { bulk, totals, finishedAt });
    logger.info({ bulkId, ...totals }, 'bulk deactivation finished');
    return { bulkId, status: 'completed', ...totals };
  } catch (error) {
    if (isLastAttempt(job, error)) await recordBulkFailure(deps, bulk, error);
    throw error;
  }
}
