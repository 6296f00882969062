import type { AuditEvent } from '../models/audit-event.model';
import type { Models } from '../models/create-models';
import type { Deactivation, StepRecord } from '../models/deactivation.model';
import { sweepTally } from '../sweeps/sweep-tally';
import { recordEvent } from './record-event';

/**
 * The facts the webhooks tell, one function each, called where the fact becomes true (a line at
 * each place). Each reads what it reports from the store, so the payload is built in one place:
 * ids, statuses, counts and step results, never names, emails or free-text reasons.
 */

/** The error code of a step (`internal: …` → `internal`): the message may quote data. */
function errorCode(error: string | null): string | null {
  return error === null ? null : (error.split(':', 1)[0] ?? null);
}

function stepView(step: StepRecord): Record<string, unknown> {
  return {
    name: step.name,
    status: step.status,
    attempts: step.attempts,
    result: step.result,
    error: errorCode(step.error),
  };
}

/**
 * `deactivation.completed` or `deactivation.failed`, after the run's status was stored. `stored`
 * is the run as the caller has just written it, when it knows (saves reading it back).
 */
export async function recordRunFinished(
  models: Models,
  runId: string,
  stored?: Deactivation,
): Promise<void> {
  const run = stored ?? (await models.deactivations.findById(runId).lean());
  if (run?.status !== 'completed' && run?.status !== 'failed') return;
  await recordEvent(models, {
    type: run.status === 'completed' ? 'deactivation.completed' : 'deactivation.failed',
    orgId: run.orgId,
    factId: run._id,
    at: run.completedAt ?? new Date(),
    data: {
      deactivationId: run._id,
      userId: run.userId,
      actorId: run.actorId,
      source: run.source,
      bulkId: run.bulkId ?? null,
      status: run.status,
      steps: run.steps.map(stepView),
      createdAt: run.createdAt,
      completedAt: run.completedAt,
    },
  });
}

/** `user.reactivated`, from the audit event that claimed the reactivation (its id is the fact). */
export async function recordUserReactivated(models: Models, claim: AuditEvent): Promise<void> {
  await recordEvent(models, {
    type: 'user.reactivated',
    orgId: claim.orgId,
    factId: claim._id.replace(/^outcome\//, ''),
    at: claim.at,
    data: {
      userId: claim.subjectId,
      actorId: claim.actorId,
      deactivationId: claim.data.deactivationId ?? null,
      source: claim.data.source ?? null,
    },
  });
}

/** `user.deleted`, once the erasure of the user's personal data is done. */
export async function recordUserDeleted(
  models: Models,
  erased: { orgId: string; userId: string; deletedAt: Date },
): Promise<void> {
  await recordEvent(models, {
    type: 'user.deleted',
    orgId: erased.orgId,
    factId: erased.userId,
    at: erased.deletedAt,
    data: { userId: erased.userId, status: 'deleted', deletedAt: erased.deletedAt },
  });
}

/**
 * `bulk_deactivation.completed`, once the bulk was marked completed. A sweep's bulk tells its
 * `sweep.completed` apart, where the sweep's report is written (src/sweeps/record-sweep-outcome.ts).
 */
export async function recordBulkCompleted(models: Models, bulkId: string): Promise<void> {
  const bulk = await models.bulkDeactivations.findById(bulkId).lean();
  if (bulk?.status !== 'completed') return;
  await recordEvent(models, {
    type: 'bulk_deactivation.completed',
    orgId: bulk.orgId,
    factId: bulk._id,
    at: bulk.finishedAt ?? new Date(),
    data: {
      bulkId: bulk._id,
      actorId: bulk.actorId,
      source: bulk.source,
      sweepId: bulk.sweepId,
      dryRun: bulk.dryRun,
      status: bulk.status,
      matched: bulk.matched,
      enqueued: bulk.enqueued,
      planned: bulk.planned,
      skipped: bulk.skipped,
      skippedByReason: bulk.skippedByReason,
    },
  });
}

/** `sweep.held` or `sweep.completed` (a dry run's too), from the sweep's report as stored. */
export async function recordSweep(models: Models, sweepId: string): Promise<void> {
  const sweep = await models.sweeps.findById(sweepId).lean();
  if (!sweep) return;
  const type =
    sweep.status === 'held'
      ? 'sweep.held'
      : sweep.status === 'completed' || sweep.status === 'dry_run'
        ? 'sweep.completed'
        : null;
  if (type === null) return;
  await recordEvent(models, {
    type,
    orgId: sweep.orgId,
    factId: sweep._id,
    at: sweep.finishedAt ?? sweep.startedAt,
    data: {
      sweepId: sweep._id,
      bulkId: sweep.bulkId,
      status: sweep.status,
      dryRun: sweep.dryRun,
      ...sweepTally(sweep),
    },
  });
}
