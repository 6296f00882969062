import { buildPlan } from '../domain/deactivation-plan';
import { assertMayDeactivate } from '../domain/deactivation-policy';
import { hashEmail } from '../domain/email';
import { chooseTransferTarget } from '../domain/transfer-target';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { DeactivationPlan } from '../models/deactivation.model';
import { cancellableSubscriptionStatuses } from '../models/subscription.model';
import type { User } from '../models/user.model';

/** A deactivation as asked for, before any check. */
export interface DeactivationRequest {
  orgId: string;
  userId: string;
  actorId: string;
  reason?: string | null | undefined;
  allowReactivationOnPurchase?: boolean | undefined;
  source: 'api' | 'bulk' | 'sweep';
  /** System actors (`system:sweep`) are not users: the actor rules do not apply to them. */
  systemActor?: boolean;
}

/** The outcome of the checks: the user as loaded, and the plan. */
export interface Assessment {
  user: User;
  plan: DeactivationPlan;
}

const teamOrder = { createdAt: 1, _id: 1 } as const;

/**
 * Loads what the rules of DESIGN.md §1 need, applies them (throwing the refusal) and computes
 * the plan with the counts each step would touch. Reads only; shared by the request, its dry
 * run, bulk deactivations and sweeps.
 */
export async function assessDeactivation(
  models: Models,
  request: DeactivationRequest,
  now: Date,
): Promise<Assessment> {
  const { orgId, userId, actorId } = request;
  const [orgExists, user, actor] = await Promise.all([
    models.organizations.exists({ _id: orgId }),
    models.users.findOne({ _id: userId, orgId }).lean(),
    request.systemActor ? null : models.users.findOne({ _id: actorId, orgId }).lean(),
  ]);
  if (!orgExists) throw new AppError('not_found', `Unknown organization ${orgId}`);
  if (!user) throw new AppError('not_found', `Unknown user ${userId}`);

  const employee = user.kind === 'employee';
  const [ledTeams, activeAdminCount, runInProgress] = await Promise.all([
    employee
      ? models.teams.find({ orgId, leaderId: userId }, { _id: 1 }).sort(teamOrder).lean()
      : [],
    employee && user.role === 'admin'
      ? models.users.countDocuments({ orgId, kind: 'employee', role: 'admin', status: 'active' })
      : 0,
    user.status === 'inactive'
      ? models.deactivations
          .findOne({ orgId, userId, status: { $in: ['pending', 'running'] } }, { _id: 1 })
          .lean()
      : null,
  ]);
  assertMayDeactivate({
    // A system actor acts with an admin's rank; every rule about the user still applies.
    actor: request.systemActor
      ? { _id: actorId, kind: 'employee', role: 'admin', status: 'active' }
      : actor,
    user,
    activeAdminCount,
    ledTeamIds: ledTeams.map((team) => team._id),
    runInProgressId: runInProgress?._id ?? null,
  });

  const allowReactivationOnPurchase = request.allowReactivationOnPurchase ?? false;
  const ownTeams = employee
    ? await models.teams
        .find({ orgId, memberIds: userId }, { _id: 1, leaderId: 1, createdAt: 1 })
        .lean()
    : [];
  const orgTeams =
    employee && ownTeams.length === 0
      ? await models.teams
          .find({ orgId }, { _id: 1, leaderId: 1, createdAt: 1 })
          .sort(teamOrder)
          .lean()
      : [];
  const leaderIds = [...ownTeams, ...orgTeams].flatMap((team) =>
    team.leaderId ? [team.leaderId] : [],
  );
  const email = user.email ?? '';

  const [activeLeaders, tokens, subscriptions, opportunities, alreadyBlocked] = await Promise.all([
    leaderIds.length > 0
      ? models.users.find({ _id: { $in: leaderIds }, orgId, status: 'active' }, { _id: 1 }).lean()
      : [],
    models.tokens.countDocuments({ userId, orgId, revokedAt: null, issuedAt: { $lte: now } }),
    models.subscriptions.countDocuments({
      userId,
      orgId,
      status: { $in: cancellableSubscriptionStatuses },
    }),
    employee ? models.opportunities.countDocuments({ ownerId: userId, orgId, status: 'open' }) : 0,
    email === ''
      ? true
      : models.blocklist.exists({ orgId, emailHash: hashEmail(email) }).then(Boolean),
  ]);
  const target = employee
    ? chooseTransferTarget(
        userId,
        { ownTeams, orgTeams },
        new Set(activeLeaders.map((leader) => leader._id)),
      )
    : null;

  const plan = buildPlan({
    userKind: user.kind,
    allowReactivationOnPurchase,
    cutoff: now,
    target,
    teamIds: ownTeams.map((team) => team._id),
    counts: {
      'revoke-tokens': tokens,
      'cancel-subscriptions': subscriptions,
      'transfer-opportunities': opportunities,
      'remove-from-teams': ownTeams.length,
      'blocklist-email': alreadyBlocked ? 0 : 1,
    },
  });
  return { user, plan };
}
