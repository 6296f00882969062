import type { Db } from 'mongodb';
import { ulid } from 'ulid';
import { newRun } from '../../src/deactivation/request-deactivation';
import { stepRecordWrites } from '../../src/deactivation/run-steps';
import { buildPlan } from '../../src/domain/deactivation-plan';
import { hashEmail, normalizeEmail } from '../../src/domain/email';
import { stepNames, type StepName } from '../../src/domain/step-names';
import { cancellableSubscriptionStatuses } from '../../src/models/subscription.model';
import type { BenchOrg, DepartingUser } from './fixtures';
import type { WriteCounts } from './verify-writes';

/**
 * The floor of one deactivation: the database writes offboard issues for it, issued directly
 * with the mongodb driver, one after the other, with the same filters and updates as
 * src/deactivation/request-deactivation.ts, src/deactivation/deactivation-flow.job.ts (its
 * step records through src/deactivation/run-steps.ts, as here) and src/deactivation/steps:
 *
 * - insert the run; switch the user to `inactive` (conditional on `active`);
 * - per step: mark the step running (`$inc` attempts), the step's own write, record the result;
 * - the parent: one unordered insert of the audit events (one per type), then the run `completed`.
 *
 * `shape: 'effects-only'` is the lower floor of the issue: the same effect writes (the user, the
 * steps' own writes, the audit insert), the run insert and one completion write that records
 * every step's result at once, and no per-step record (neither running nor result).
 *
 * Not issued: every read offboard does (the request's assessment, each step's reads of the run and
 * user, the counts that make step results idempotent), and nothing of Redis. Those are what the
 * ratio charges to offboard.
 *
 * Returns the run's id and what the writes themselves reported (`modifiedCount`s, the upsert),
 * which the bench checks against the seeded counts after the timing: a floor that skipped a
 * write would otherwise look fast.
 */
/** Which floor: with the run's per-step record (running, then result), or the effects only. */
export type FloorShape = 'step-records' | 'effects-only';

export async function floorDeactivation(
  db: Db,
  org: BenchOrg,
  user: DepartingUser,
  shape: FloorShape = 'step-records',
): Promise<{ runId: string; counts: WriteCounts }> {
  const now = new Date();
  const { orgId, adminId: actorId } = org;
  const { userId } = user;
  const plan = buildPlan({
    userKind: 'employee',
    allowReactivationOnPurchase: false,
    cutoff: now,
    target: { to: org.leaderId, teamId: user.teamIds[0] ?? '' },
    teamIds: user.teamIds,
    counts: {
      'revoke-tokens': user.size.tokens,
      'cancel-subscriptions': user.size.subscriptions,
      'transfer-opportunities': user.size.opportunities,
      'remove-from-teams': user.size.teams,
      'blocklist-email': 1,
    },
  });
  const run = newRun(
    { orgId, userId, actorId, source: 'api' },
    { _id: userId, orgId, reactivatedAt: null },
    plan,
    now,
  );
  const runId = run._id;
  const runs = db.collection<{ _id: string }>('deactivations');
  await runs.insertOne(run);
  const switched = await db.collection<{ _id: string }>('users').updateOne(
    { _id: userId, orgId, status: 'active' },
    {
      $set: {
        status: 'inactive',
        deactivatedAt: now,
        deactivatedBy: actorId,
        deactivationId: runId,
        allowReactivationOnPurchase: false,
      },
    },
  );

  const stepWrites: Record<StepName, () => Promise<Record<string, unknown>>> = {
    'revoke-tokens': async () => {
      const { modifiedCount } = await db.collection('tokens').updateMany(
        { userId, orgId, revokedAt: null, issuedAt: { $lte: plan.cutoff } },
        {
          $set: {
            revokedAt: new Date(),
            revokedReason: 'user_deactivated',
            revokedByDeactivationId: runId,
          },
        },
      );
      return { revoked: modifiedCount };
    },
    'cancel-subscriptions': async () => {
      const { modifiedCount } = await db.collection('subscriptions').updateMany(
        { userId, orgId, status: { $in: cancellableSubscriptionStatuses } },
        {
          $set: {
            status: 'canceled',
            canceledAt: new Date(),
            cancelReason: 'user_deactivated',
            cancelDeactivationId: runId,
          },
        },
      );
      return { canceled: modifiedCount };
    },
    'transfer-opportunities': async () => {
      const to = org.leaderId;
      const { modifiedCount } = await db
        .collection<{ transfers: object[]; transferDeactivationIds: string[] }>('opportunities')
        .updateMany(
          { ownerId: userId, orgId, status: 'open', 'transfers.deactivationId': { $ne: runId } },
          {
            $set: { ownerId: to },
            $push: { transfers: { from: userId, to, at: new Date(), deactivationId: runId } },
            $addToSet: { transferDeactivationIds: runId },
          },
        );
      return { transferred: modifiedCount, to, retained: 0 };
    },
    'remove-from-teams': async () => {
      const { modifiedCount } = await db
        .collection<{ memberIds: string[] }>('teams')
        .updateMany({ orgId, memberIds: userId }, { $pull: { memberIds: userId } });
      return { teams: modifiedCount };
    },
    'blocklist-email': async () => {
      const { upsertedCount } = await db.collection<{ _id: string }>('blocklist').updateOne(
        { orgId, emailHash: hashEmail(user.email) },
        {
          $setOnInsert: {
            _id: ulid(),
            email: normalizeEmail(user.email),
            reason: 'user_deactivated',
            createdAt: now,
            createdBy: actorId,
            deactivationId: runId,
          },
        },
        { upsert: true },
      );
      return { blocked: upsertedCount };
    },
  };

  const results: Partial<Record<StepName, Record<string, unknown>>> = {};
  for (const step of stepNames) {
    if (!plan.steps[step]) continue;
    if (shape === 'effects-only') {
      results[step] = await stepWrites[step]();
      continue;
    }
    const record = stepRecordWrites(runId, step);
    await runs.updateOne(record.filter, record.started(false));
    const result = await stepWrites[step]();
    results[step] = result;
    await runs.updateOne(record.filter, record.completed(result, new Date()));
  }

  const completedAt = new Date();
  const events = [
    { type: 'user.deactivated', actorId, data: { deactivationId: runId, source: 'api' } },
    { type: 'deactivation.completed', actorId, data: { deactivationId: runId, results } },
    {
      type: 'opportunities.transferred',
      actorId,
      data: {
        deactivationId: runId,
        to: org.leaderId,
        count: results['transfer-opportunities']?.transferred,
      },
    },
  ];
  await db.collection<{ _id: string }>('auditEvents').insertMany(
    events.map((event) => ({
      _id: `${runId}.${event.type}`,
      orgId,
      subjectId: userId,
      at: completedAt,
      ...event,
    })),
    { ordered: false },
  );
  const stepResults: Record<string, unknown> = {};
  if (shape === 'effects-only') {
    for (const [index, step] of stepNames.entries()) {
      if (!plan.steps[step]) continue;
      stepResults[`steps.${index}.status`] = 'completed';
      stepResults[`steps.${index}.attempts`] = 1;
      stepResults[`steps.${index}.result`] = results[step];
      stepResults[`steps.${index}.completedAt`] = completedAt;
    }
  }
  const completed = await runs.updateOne(
    { _id: runId, status: { $ne: 'completed' } },
    { $set: { ...stepResults, status: 'completed', completedAt } },
  );
  const count = (step: StepName, key: string): number => {
    const value = results[step]?.[key];
    return typeof value === 'number' ? value : 0;
  };
  return {
    runId,
    counts: {
      run: completed.modifiedCount,
      user: switched.modifiedCount,
      revoked: count('revoke-tokens', 'revoked'),
      canceled: count('cancel-subscriptions', 'canceled'),
      transferred: count('transfer-opportunities', 'transferred'),
      teams: count('remove-from-teams', 'teams'),
      blocked: count('blocklist-email', 'blocked'),
    },
  };
}
