import type { FlowProducer } from 'bullmq';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { User } from '../models/user.model';
import { enqueueErasure } from '../queues/erasure-queue';
import { queueingFailed } from '../queues/queueing-failed';
import { claimOutcome, outcomeEventId } from './inactive-period';
import { loadActedOnUser } from './load-acted-on-user';
import { toUserView, type UserView } from './user-view';

/** What accepting a deletion needs. */
export interface RequestErasureDeps {
  models: Models;
  flows: FlowProducer;
}

/** A deletion as asked for; `confirm === userId` is checked by the request schema. */
export interface ErasureRequest {
  orgId: string;
  userId: string;
  actorId: string;
  /** System actors (`system:scim`) are not users: they act with an admin's rank. */
  systemActor?: boolean;
}

/** An accepted deletion: the user (status `deleted`) and the erasure job that will finish it. */
export interface ErasureAccepted {
  user: UserView;
  erasureJobId: string;
}

/**
 * Checks that the inactive user's deactivation completed; anything else (no run, or a run
 * pending, running or failed) is `not_deactivated`, with the run's id and status.
 */
async function assertDeactivationCompleted(models: Models, user: User): Promise<void> {
  const run = user.deactivationId
    ? await models.deactivations
        .findOne({ _id: user.deactivationId, orgId: user.orgId }, { _id: 1, status: 1 })
        .lean()
    : null;
  if (run?.status !== 'completed') {
    throw new AppError(
      'not_deactivated',
      "Only a user whose deactivation has completed can be deleted; wait for the run's end",
      { details: { deactivationId: run?._id ?? null, runStatus: run?.status ?? null } },
    );
  }
}

/**
 * `POST /v1/orgs/:orgId/deletions`: only an active admin of the organization may delete (403
 * `actor_not_allowed`), only an inactive user whose deactivation completed (409
 * `not_deactivated`).
 *
 * Accepting is three writes: the `user.deleted` audit event under the period's outcome id (the
 * unique insert that a racing reactivation cannot also win), the user's status `deleted` (they
 * cannot be reactivated or log in from here on), then the erasure job, which removes the
 * personal data and sets `deletedAt`. Repeating the request before `deletedAt` is set re-queues
 * the erasure (202) — that is how a caller recovers from a 503 here; after it, 409
 * `user_deleted`.
 */
export async function requestErasure(
  deps: RequestErasureDeps,
  request: ErasureRequest,
  now: Date,
): Promise<ErasureAccepted> {
  const { models } = deps;
  const { orgId, userId, actorId } = request;
  const { user, actor } = await loadActedOnUser(models, request, request.systemActor ?? false);
  if (actor.role !== 'admin') {
    throw new AppError('actor_not_allowed', 'Only admins may delete users');
  }
  if (user.status === 'deleted' && user.deletedAt) {
    throw new AppError('user_deleted', 'The user has already been deleted');
  }
  if (user.status === 'active') {
    throw new AppError('not_deactivated', 'Only an inactive user can be deleted');
  }

  // Inactive: claim the period. Deleted but not yet erased: a repeat, which only re-queues.
  if (user.status === 'inactive') {
    await assertDeactivationCompleted(models, user);
    const claim = await claimOutcome(models, {
      _id: outcomeEventId(user),
      orgId,
      type: 'user.deleted',
      actorId,
      subjectId: userId,
      at: now,
      data: { deactivationId: user.deactivationId ?? null },
    });
    if (claim.event.type === 'user.reactivated') {
      throw new AppError('not_deactivated', 'The user has just been reactivated');
    }
    // Winner, or a repeat of a deletion interrupted before this write: the same write.
    await models.users.updateOne(
      { _id: userId, orgId, status: 'inactive', deactivationId: user.deactivationId ?? null },
      { $set: { status: 'deleted' } },
    );
  }

  let erasureJobId: string;
  try {
    erasureJobId = await enqueueErasure(deps.flows, { orgId, userId });
  } catch (error) {
    throw queueingFailed(
      error,
      'The deletion was recorded but its erasure could not be queued; repeat the request to queue it',
    );
  }
  const stored = await models.users.findOne({ _id: userId, orgId }).lean();
  if (!stored) throw new AppError('not_found', `Unknown user ${userId}`);
  return { user: toUserView(stored), erasureJobId };
}
