import type { Job, Queue } from 'bullmq';
import { newBulk, SelectionWriter } from '../bulk/bulk-selection';
import { toAppError } from '../errors/to-app-error';
import type { Logger } from '../logging/logger';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';
import type { SweepReport } from '../models/sweep-report.model';
import { enqueueBulk } from '../queues/bulk-queue';
import { failureText, isLastAttempt } from '../queues/last-attempt';
import { insertIgnoringDuplicates } from '../store/duplicate-key';
import { selectSweepUsers } from './select-sweep-users';
import type { SweepJobData } from './sweep-scheduler';
import { recordSweep } from '../webhooks/webhook-facts';

/** The actor of every sweep's runs. */
export const sweepActorId = 'system:sweep';

/** What a sweep needs. */
export interface SweepDeps {
  models: Models;
  bulkQueue: Queue;
  logger: Logger;
}

/** A fresh report of one fire: `running`, nothing counted yet. */
export function newSweepReport(
  sweepId: string,
  orgId: string,
  policy: SweepPolicy,
  now: Date,
): SweepReport {
  return {
    _id: sweepId,
    orgId,
    status: 'running',
    dryRun: policy.dryRun,
    startedAt: now,
    finishedAt: null,
    matched: 0,
    selected: 0,
    deactivated: 0,
    skippedByReason: {},
    held: false,
    maxPerRun: policy.maxPerRun,
    bulkId: null,
    approvedBy: null,
    approvedAt: null,
    error: null,
  };
}

/**
 * Inserts the fire's report, unique by id, so one fire is swept once. Returns when the sweep
 * starts (now, or when an interrupted attempt of this fire started), or why this attempt stops:
 * the fire was swept already, or its bulk was written (and is re-queued while still pending).
 * A report `failed` by this job's last attempt is taken up again (an operator retried the job)
 * unless its bulk was written and has moved on.
 */
async function claimSweep(
  deps: SweepDeps,
  report: SweepReport,
  bulkId: string,
): Promise<{ startedAt: Date } | { stop: 'already swept' | 'resumed' }> {
  const { models } = deps;
  const taken = await insertIgnoringDuplicates(models.sweeps, [report]);
  if (taken.size === 0) return { startedAt: report.startedAt };
  const existing = await models.sweeps.findById(report._id).lean();
  const bulk =
    existing?.bulkId == null ? null : await models.bulkDeactivations.findById(bulkId).lean();
  if (existing?.status === 'failed' && (bulk === null || bulk.status === 'pending')) {
    await models.sweeps.updateOne(
      { _id: report._id, status: 'failed' },
      { $set: { status: 'running', error: null, finishedAt: null } },
    );
  } else if (existing?.status !== 'running') {
    // An earlier attempt may have held the sweep and stopped before recording the event.
    await recordSweep(models, report._id);
    return { stop: 'already swept' };
  }
  // An earlier attempt of this fire stopped part-way: finish it, as of when it started.
  if (!bulk) return { startedAt: existing.startedAt };
  if (bulk.status === 'pending') await enqueueBulk(deps.bulkQueue, bulk);
  return { stop: 'resumed' };
}

/**
 * One sweep of an organization: selects its dormant active users ({@link selectSweepUsers})
 * and hands them to a bulk deactivation with `source: "sweep"`. Over `maxPerRun` it deactivates
 * nobody and is held until an admin approves. The report's id derives from the job, and one
 * fire's report can be inserted once: two workers never run the same sweep.
 */
export async function runSweepJob(job: Job<SweepJobData>, deps: SweepDeps): Promise<unknown> {
  const { models } = deps;
  const { orgId } = job.data;
  const org = await models.organizations.findById(orgId).lean();
  const policy = org?.sweepPolicy;
  if (!policy?.enabled) return { orgId, swept: false, reason: 'no enabled sweep policy' };

  const sweepId = `${orgId}-${(job.id ?? String(job.timestamp)).replace(/[^A-Za-z0-9_-]/g, '-')}`;
  // The bulk's id derives from the sweep's, so an attempt that resumes after a crash writes
  // the very same documents instead of new ones.
  const bulkId = `sweep-${sweepId}`;
  try {
    const report = newSweepReport(sweepId, orgId, policy, new Date());
    const claim = await claimSweep(deps, report, bulkId);
    if ('stop' in claim) {
      return claim.stop === 'resumed'
        ? { orgId, sweepId, resumed: true }
        : { orgId, sweepId, swept: false, reason: claim.stop };
    }
    return await sweep(deps, { orgId, sweepId, bulkId, policy, now: claim.startedAt });
  } catch (error) {
    if (isLastAttempt(job, error)) await recordSweepJobFailure(deps, sweepId, error);
    throw error;
  }
}

/**
 * Marks the report `failed` with the error when the sweep job's last attempt failed, whether
 * selecting or queueing the bulk (a resumed attempt queues it too); once the bulk is queued,
 * failing is the bulk job's to record. Best effort: a failure to record is logged.
 */
async function recordSweepJobFailure(
  deps: SweepDeps,
  sweepId: string,
  error: unknown,
): Promise<void> {
  try {
    await deps.models.sweeps.updateOne(
      { _id: sweepId, status: 'running' },
      { $set: { status: 'failed', error: failureText(error), finishedAt: new Date() } },
    );
    deps.logger.warn({ sweepId, code: toAppError(error).code }, 'sweep failed');
  } catch (recordError) {
    deps.logger.warn({ sweepId, err: recordError }, 'could not record the sweep failure');
  }
}

/** Selects the users and hands them to a bulk (held over `maxPerRun`). */
async function sweep(
  deps: SweepDeps,
  fire: { orgId: string; sweepId: string; bulkId: string; policy: SweepPolicy; now: Date },
): Promise<unknown> {
  const { models, bulkQueue, logger } = deps;
  const { orgId, sweepId, bulkId, policy, now } = fire;
  const bulk = newBulk(
    {
      orgId,
      actorId: sweepActorId,
      source: 'sweep',
      sweepId,
      reason: 'inactivity sweep',
      allowReactivationOnPurchase: false,
      dryRun: policy.dryRun,
      filter: null,
      createdAt: now,
    },
    'pending',
    bulkId,
  );
  const selection = new SelectionWriter(models, bulk._id, { dryRun: bulk.dryRun });
  const { matched, skippedByReason } = await selectSweepUsers(
    models,
    { orgId, policy, now },
    selection,
  );

  const held = selection.count > policy.maxPerRun;
  bulk.matched = selection.count;
  bulk.status = held ? 'held' : 'pending';
  await insertIgnoringDuplicates(models.bulkDeactivations, [bulk]);
  await models.sweeps.updateOne(
    { _id: sweepId },
    {
      $set: {
        status: held ? 'held' : 'running',
        held,
        matched,
        selected: selection.count,
        skippedByReason,
        bulkId: bulk._id,
      },
    },
  );
  if (held) await recordSweep(models, sweepId);
  if (!held) await enqueueBulk(bulkQueue, bulk);
  logger.info(
    { orgId, sweepId, matched, selected: selection.count, held },
    'sweep selected its users',
  );
  return { orgId, sweepId, matched, selected: selection.count, held };
}
