import { hashEmail } from '../domain/email';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { User } from '../models/user.model';
import { recordUserReactivated } from '../webhooks/webhook-facts';
import { claimOutcome, outcomeEventId } from './inactive-period';
import { loadActedOnUser } from './load-acted-on-user';
import { toUserView, type UserView } from './user-view';

/**
 * Who reactivates: a user through the API, the purchase check (`system:purchase`) or an
 * identity provider over SCIM (`system:scim`).
 */
export interface Reactivator {
  actorId: string;
  source: 'api' | 'purchase' | 'scim';
  reason?: string | undefined;
}

/** What an attempt to end the user's inactive period with a reactivation came to. */
export type ReactivationAttempt =
  /** This call reactivated the user. */
  | { outcome: 'reactivated' }
  /** A concurrent reactivation won; its work is finished (again) by this call. */
  | { outcome: 'already_reactivated' }
  /** A deletion won: the user never comes back. */
  | { outcome: 'deleted' };

/** The actor of reactivations made by the purchase check. */
export const purchaseActorId = 'system:purchase';

/**
 * Makes the winner's reactivation true in the store: lifts the blocklist entry, then switches
 * the user to `active` with the winning event's time. Every write is idempotent and uses the
 * winner's values, so a loser that runs it too (or a retry after a crash between the claim and
 * these writes) leaves the same state. The blocklist goes first: a crash in between leaves an
 * inactive user whose retry finishes the job, never an active user still refused at purchase.
 */
async function finishReactivation(models: Models, user: User, at: Date): Promise<void> {
  const emailHash = user.email ? hashEmail(user.email) : (user.emailHash ?? null);
  if (emailHash !== null) {
    await models.blocklist.deleteOne({ orgId: user.orgId, emailHash });
  }
  await models.users.updateOne(
    {
      _id: user._id,
      orgId: user.orgId,
      status: 'inactive',
      // Still the period that was claimed: never switch on a later deactivation.
      deactivationId: user.deactivationId ?? null,
      reactivatedAt: user.reactivatedAt ?? null,
    },
    { $set: { status: 'active', reactivatedAt: at } },
  );
}

/**
 * Ends the inactive period of `user` (as loaded, status `inactive`, no run in progress) with a
 * reactivation: claims the period by inserting the `user.reactivated` audit event under its
 * deterministic id, then lifts the blocklist entry and switches the user. Nothing else is
 * reverted (docs/rules.md): tokens, subscriptions, opportunities and teams stay as the
 * deactivation left them.
 *
 * Of racing reactivations and deletions exactly one claim wins; `reactivatedAt` is the winning
 * event's time, so it is written once whatever the number of writers.
 */
export async function applyReactivation(
  models: Models,
  user: User,
  by: Reactivator,
  now: Date,
): Promise<ReactivationAttempt> {
  const claim = await claimOutcome(models, {
    _id: outcomeEventId(user),
    orgId: user.orgId,
    type: 'user.reactivated',
    actorId: by.actorId,
    subjectId: user._id,
    at: now,
    data: {
      deactivationId: user.deactivationId ?? null,
      source: by.source,
      // Free text from the caller; erasure removes it with the rest of the user's data.
      ...(by.reason === undefined ? {} : { reason: by.reason }),
    },
  });
  if (claim.event.type === 'user.deleted') return { outcome: 'deleted' };
  await finishReactivation(models, user, claim.event.at);
  await recordUserReactivated(models, claim.event);
  return claim.won ? { outcome: 'reactivated' } : { outcome: 'already_reactivated' };
}

/** A reactivation as asked for through the API. */
export interface ReactivationRequest {
  orgId: string;
  userId: string;
  actorId: string;
  reason?: string | undefined;
  /** Where the request came from; `api` unless said otherwise. */
  source?: 'api' | 'scim';
  /** System actors (`system:scim`) are not users: they act with an admin's rank. */
  systemActor?: boolean;
}

/**
 * `POST /v1/orgs/:orgId/reactivations`: the actor rules of deactivation (403), then the user's
 * state (409: `user_deleted`, `already_active`, `deactivation_in_progress`), then
 * {@link applyReactivation}. Returns the user as now stored.
 */
export async function reactivateUser(
  models: Models,
  request: ReactivationRequest,
  now: Date,
): Promise<UserView> {
  const { orgId, userId, actorId } = request;
  const { user } = await loadActedOnUser(models, request, request.systemActor ?? false);

  if (user.status === 'deleted') throw new AppError('user_deleted', 'The user has been deleted');
  if (user.status === 'active') throw new AppError('already_active', 'The user is already active');
  const running = await models.deactivations
    .findOne({ orgId, userId, status: { $in: ['pending', 'running'] } }, { _id: 1 })
    .lean();
  if (running) {
    // Reactivating now would leave the run's remaining steps undone (they stop applying once
    // the user is active): a half-finished deactivation nobody asked for.
    throw new AppError('deactivation_in_progress', 'A deactivation of this user is still running', {
      details: { deactivationId: running._id },
    });
  }

  const attempt = await applyReactivation(
    models,
    user,
    { actorId, source: request.source ?? 'api', reason: request.reason },
    now,
  );
  if (attempt.outcome === 'deleted') {
    throw new AppError('user_deleted', 'The user has been deleted');
  }
  if (attempt.outcome === 'already_reactivated') {
    throw new AppError('already_active', 'The user has already been reactivated');
  }
  const updated = await models.users.findOne({ _id: userId, orgId }).lean();
  if (!updated) throw new AppError('not_found', `Unknown user ${userId}`);
  return toUserView(updated);
}
