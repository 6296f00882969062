import type { BulkOutcome } from '../bulk/process-bulk.job';
import type { Models } from '../models/create-models';
import { recordSweep } from '../webhooks/webhook-facts';

/**
 * Writes a finished bulk's outcome into the report of the sweep that started it (a bulk of no
 * sweep is left alone): `completed` (or `dry_run`), `deactivated` (runs enqueued), and the
 * bulk's skip reasons added to those of the sweep's own selection; then the `sweep.completed`
 * webhook event. Passed to the bulk job as its `onFinished`.
 */
export async function recordSweepOutcome(models: Models, outcome: BulkOutcome): Promise<void> {
  const { bulk, totals, finishedAt } = outcome;
  if (bulk.sweepId === null) return;
  const sweep = await models.sweeps.findById(bulk.sweepId).lean();
  const skippedByReason = { ...(sweep?.skippedByReason ?? {}) };
  for (const [reason, count] of Object.entries(totals.skippedByReason)) {
    skippedByReason[reason] = (skippedByReason[reason] ?? 0) + count;
  }
  await models.sweeps.updateOne(
    { _id: bulk.sweepId },
    {
      $set: {
        status: bulk.dryRun ? 'dry_run' : 'completed',
        deactivated: totals.enqueued,
        skippedByReason,
        finishedAt,
      },
    },
  );
  await recordSweep(models, bulk.sweepId);
}
