import type { FlowProducer } from 'bullmq';
import { mapLimit } from '../infra/map-limit';
import type { Models } from '../models/create-models';
import type { Deactivation, RunSource } from '../models/deactivation.model';
import { enqueueRuns } from '../queues/deactivation-flow';
import { insertIgnoringDuplicates } from '../store/duplicate-key';
import { lookupConcurrency, writeConcurrency } from '../store/per-key-queries';
import type { Assessment } from './assess-deactivation';
import { newRun } from './request-deactivation';

/** The options every run of one batch shares. */
export interface BatchRunOptions {
  orgId: string;
  actorId: string;
  source: RunSource;
  reason: string | null;
  bulkId: string;
}

/** Per user: the run (new, or this batch's own from an earlier attempt), or why it was skipped. */
export type AcceptOutcome = { ok: true; run: Deactivation } | { ok: false; reason: string };

/**
 * Accepts a batch of assessed users the way a single request does, with a fixed number of
 * round trips: insert the runs (the unique claim lets one run per user through), switch the
 * users to `inactive`, keep at least one active admin, then add every flow in one call.
 *
 * Safe to repeat after a crash: a claim already held by a run of the same batch is that run,
 * carried on rather than duplicated.
 */
export async function acceptRuns(
  deps: { models: Models; flows: FlowProducer },
  options: BatchRunOptions,
  assessments: Assessment[],
  now: Date,
): Promise<Map<string, AcceptOutcome>> {
  const { models } = deps;
  const outcomes = new Map<string, AcceptOutcome>();
  const candidates = assessments.map(({ user, plan }) => ({
    user,
    run: {
      ...newRun({ ...options, userId: user._id }, user, plan, now),
      bulkId: options.bulkId,
    } satisfies Deactivation,
  }));

  const conflicts = await insertIgnoringDuplicates(
    models.deactivations,
    candidates.map((candidate) => candidate.run),
  );
  const conflicting = candidates.filter((_, index) => conflicts.has(index));
  // Lookups by equality, not `$in` (see lookupConcurrency).
  const existing = await mapLimit(conflicting, lookupConcurrency, (c) =>
    models.deactivations.findOne({ claim: c.run.claim }).lean(),
  );
  const byClaim = new Map(existing.flatMap((run) => (run ? [[run.claim, run] as const] : [])));
  const runs: { user: Assessment['user']; run: Deactivation; fresh: boolean }[] = [];
  candidates.forEach((candidate, index) => {
    if (!conflicts.has(index)) {
      runs.push({ ...candidate, fresh: true });
      return;
    }
    const earlier = byClaim.get(candidate.run.claim);
    if (earlier?.bulkId === options.bulkId)
      runs.push({ user: candidate.user, run: earlier, fresh: false });
    else outcomes.set(candidate.user._id, { ok: false, reason: 'already_inactive' });
  });

  // One update per user, a few at a time, never one bulkWrite (see writeConcurrency).
  const flipped = await mapLimit(runs, writeConcurrency, async ({ user, run }) => {
    const result = await models.users.updateOne(
      { _id: user._id, orgId: options.orgId, status: 'active' },
      {
        $set: {
          status: 'inactive',
          deactivatedAt: now,
          deactivatedBy: options.actorId,
          deactivationId: run._id,
          allowReactivationOnPurchase: run.plan.allowReactivationOnPurchase,
        },
      },
    );
    if (result.matchedCount === 1) return run._id;
    // Not active any more: inactive under this very run (an earlier attempt), or someone else's.
    const current = await models.users
      .findOne({ _id: user._id, orgId: options.orgId }, { deactivationId: 1, status: 1 })
      .lean();
    return current?.status === 'inactive' ? (current.deactivationId ?? null) : null;
  });
  const flippedTo = new Map(runs.map(({ user }, index) => [user._id, flipped[index] ?? null]));
  const accepted = runs.filter(({ user, run }) => flippedTo.get(user._id) === run._id);
  const lost = runs.filter(({ user, run }) => flippedTo.get(user._id) !== run._id);
  if (lost.length > 0) {
    await mapLimit(lost, writeConcurrency, (r) =>
      models.deactivations.deleteOne({ _id: r.run._id, status: 'pending' }),
    );
    for (const { user } of lost) outcomes.set(user._id, { ok: false, reason: 'already_inactive' });
  }

  const admins = accepted.filter(({ user }) => user.kind === 'employee' && user.role === 'admin');
  if (admins.length > 0) {
    // Several admins of one batch each passed the count on their own; give back as many as it
    // takes to leave one active admin.
    let active = await models.users.countDocuments({
      orgId: options.orgId,
      kind: 'employee',
      role: 'admin',
      status: 'active',
    });
    while (active === 0 && admins.length > 0) {
      const restored = admins.pop();
      if (!restored) break;
      await models.users.updateOne(
        { _id: restored.user._id, deactivationId: restored.run._id },
        {
          $set: { status: 'active' },
          $unset: { deactivatedAt: 1, deactivatedBy: 1, deactivationId: 1 },
        },
      );
      await models.deactivations.deleteOne({ _id: restored.run._id, status: 'pending' });
      accepted.splice(accepted.indexOf(restored), 1);
      outcomes.set(restored.user._id, { ok: false, reason: 'last_admin' });
      active += 1;
    }
  }

  await enqueueRuns(
    deps.flows,
    accepted.map((entry) => entry.run),
  );
  for (const { user, run } of accepted) outcomes.set(user._id, { ok: true, run });
  return outcomes;
}
