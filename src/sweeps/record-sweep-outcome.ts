import type { BulkFailure, BulkOutcome } from '../bulk/process-bulk.job';
import type { Models } from '../models/create-models';
import { recordSweep } from '../webhooks/webhook-facts';

/**
 * Writes a finished bulk's outcome into the report of the sweep that started it (a bulk of no
 * sweep is left alone): `completed` (or `dry_run`), `deactivated` (runs enqueued), and the
 * bulk's skip reasons added to those of the sweep's own selection; then the `sweep.completed`
 * webhook event. Passed to the bulk job as its `onFinished`; idempotent.
 */
export async function recordSweepOutcome(models: Models, outcome: BulkOutcome): Promise<void> {
  const { bulk, totals, finishedAt } = outcome;
  if (bulk.sweepId === null) return;
  const sweep = await models.sweeps.findById(bulk.sweepId).lean();
  const skippedByReason = { ...(sweep?.skippedByReason ?? {}) };
  for (const [reason, count] of Object.entries(totals.skippedByReason)) {
    skippedByReason[reason] = (skippedByReason[reason] ?? 0) + count;
  }
  // Written once: a later attempt of the bulk job (see BulkJobDeps.onFinished) finds the
  // report final and must not add the bulk's skips a second time.
  await models.sweeps.updateOne(
    { _id: bulk.sweepId, status: { $nin: ['completed', 'dry_run'] } },
    {
      $set: {
        status: bulk.dryRun ? 'dry_run' : 'completed',
        deactivated: totals.enqueued,
        skippedByReason,
        finishedAt,
        // A bulk retried after it failed ends here too: the report's failure is history.
        error: null,
      },
    },
  );
  await recordSweep(models, bulk.sweepId);
}

/**
 * Marks the report of a sweep whose bulk failed for good `failed`, with the bulk's error. A
 * retried bulk that then completes makes it `completed` ({@link recordSweepOutcome}). Passed to
 * the bulk job as its `onFailed`; a bulk of no sweep is left alone. No webhook event: the
 * contract names none for a failed sweep.
 */
export async function recordSweepFailure(models: Models, failure: BulkFailure): Promise<void> {
  const { bulk, error, finishedAt } = failure;
  if (bulk.sweepId === null) return;
  await models.sweeps.updateOne(
    { _id: bulk.sweepId, status: { $in: ['running', 'approved'] } },
    { $set: { status: 'failed', error, finishedAt } },
  );
}
