import type { Job, Queue } from 'bullmq';
import { newBulk, SelectionWriter } from '../bulk/accept-bulk';
import { selectDormantUsers } from '../bulk/select-dormant-users';
import type { Logger } from '../logging/logger';
import type { Models } from '../models/create-models';
import { enqueueBulk } from '../queues/bulk-queue';
import { insertIgnoringDuplicates } from '../store/duplicate-key';
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

function incrementReason(counts: Record<string, number>, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1;
}

/**
 * One sweep of an organization: pages through its dormant active users, skips exempt roles,
 * team leaders and the last admin (each with its reason), and hands the rest to a bulk
 * deactivation with `source: "sweep"`. Over `maxPerRun` it deactivates nobody and is held
 * until an admin approves. The report's id derives from the job, and one fire's report can be
 * inserted once: two workers never run the same sweep.
 */
export async function runSweepJob(job: Job<SweepJobData>, deps: SweepDeps): Promise<unknown> {
  const { models, bulkQueue, logger } = deps;
  const { orgId } = job.data;
  const org = await models.organizations.findById(orgId).lean();
  const policy = org?.sweepPolicy;
  if (!policy?.enabled) return { orgId, swept: false, reason: 'no enabled sweep policy' };

  let now = new Date();
  const sweepId = `${orgId}-${(job.id ?? String(job.timestamp)).replace(/[^A-Za-z0-9_-]/g, '-')}`;
  // The bulk's id derives from the sweep's, so an attempt that resumes after a crash writes
  // the very same documents instead of new ones.
  const bulkId = `sweep-${sweepId}`;
  const taken = await insertIgnoringDuplicates(models.sweeps, [
    {
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
    },
  ]);
  if (taken.size > 0) {
    const existing = await models.sweeps.findById(sweepId).lean();
    if (existing?.status !== 'running')
      return { orgId, sweepId, swept: false, reason: 'already swept' };
    // An earlier attempt of this fire stopped part-way: finish it, as of when it started.
    now = existing.startedAt;
    const bulk =
      existing.bulkId === null ? null : await models.bulkDeactivations.findById(bulkId).lean();
    if (bulk) {
      if (bulk.status === 'pending') await enqueueBulk(bulkQueue, bulk);
      return { orgId, sweepId, resumed: true };
    }
  }

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
  const exempt = new Set<string>(policy.exemptRoles);
  const leaders = new Set(
    (await models.teams.distinct('leaderId', { orgId })).filter(
      (id): id is string => typeof id === 'string',
    ),
  );
  const selection = new SelectionWriter(models, bulk._id);
  const skippedByReason: Record<string, number> = {};
  const adminCandidates: string[] = [];
  let matched = 0;
  for await (const page of selectDormantUsers(
    models,
    orgId,
    { inactiveDays: policy.inactiveDays, neverLoggedInDays: policy.neverLoggedInDays },
    now,
  )) {
    matched += page.length;
    const chosen: string[] = [];
    for (const user of page) {
      if (exempt.has(user.role)) incrementReason(skippedByReason, 'exempt_role');
      else if (leaders.has(user._id)) incrementReason(skippedByReason, 'team_leader');
      else if (user.kind === 'employee' && user.role === 'admin') adminCandidates.push(user._id);
      else chosen.push(user._id);
    }
    await selection.add(chosen);
  }
  if (adminCandidates.length > 0) {
    // Dormant admins go too, but never the organization's last active one.
    const activeAdmins = await models.users.countDocuments({
      orgId,
      kind: 'employee',
      role: 'admin',
      status: 'active',
    });
    const keep = Math.max(0, Math.min(adminCandidates.length, activeAdmins - 1));
    await selection.add(adminCandidates.slice(0, keep));
    for (let i = keep; i < adminCandidates.length; i += 1)
      incrementReason(skippedByReason, 'last_admin');
  }
  await selection.flush();

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
