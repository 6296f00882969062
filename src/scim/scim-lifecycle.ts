import type { FlowProducer } from 'bullmq';
import { requestDeactivation } from '../deactivation/request-deactivation';
import type { KeyedLock } from '../infra/redis-lock';
import { AppError } from '../errors/app-error';
import { reactivateUser } from '../lifecycle/reactivate-user';
import { requestErasure } from '../lifecycle/request-erasure';
import type { Models } from '../models/create-models';
import type { Deactivation } from '../models/deactivation.model';
import { scimActorId } from './scim-constants';

/** What SCIM's lifecycle calls need. */
export interface ScimLifecycleDeps {
  models: Models;
  flows: FlowProducer;
  /** The organization's admin lock the single-request door takes for admin targets. */
  locks: KeyedLock;
}

/** How long a reactivation waits for the user's deactivation run to finish. */
const reactivationWaitMs = 10_000;
const pollMs = 200;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a deactivation waits for a simultaneous request's acceptance to settle. */
const racingAcceptanceWaitMs = 5_000;
const racingPollMs = 25;

/**
 * The one door SCIM deactivates through: the API's single-request acceptance, with `source:
 * "scim"` and the system actor `system:scim` (an admin's rank), so every rule applies. A user
 * already inactive (through the API, or a run of a repeated request still going) is no error
 * for a provider that repeats itself: `null`, and no second run. Refusals (team leader, last
 * admin) are thrown and change nothing.
 *
 * A simultaneous request may hold the user's claim while it has not switched the user yet
 * (`deactivation_in_progress`); answering then would show the user still active. So this asks
 * again until that acceptance settles: the user is inactive (`null`), or it gave the claim
 * back and this request's own acceptance goes through. After five seconds the 409 stands.
 */
export async function deactivateOverScim(
  deps: ScimLifecycleDeps,
  orgId: string,
  userId: string,
  requestId?: string,
): Promise<Deactivation | null> {
  const deadline = Date.now() + racingAcceptanceWaitMs;
  for (;;) {
    try {
      return await requestDeactivation(
        deps,
        { orgId, userId, actorId: scimActorId, source: 'scim', systemActor: true, reason: null },
        requestId === undefined ? {} : { requestId },
      );
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      if (error.code === 'already_inactive') return null;
      if (error.code !== 'deactivation_in_progress') throw error;
      if (!(await isStillActive(deps.models, orgId, userId))) return null;
      if (Date.now() + racingPollMs >= deadline) throw error;
      await sleep(racingPollMs);
    }
  }
}

async function isStillActive(models: Models, orgId: string, userId: string): Promise<boolean> {
  const user = await models.users.findOne({ _id: userId, orgId }, { status: 1 }).lean();
  return user?.status === 'active';
}

/**
 * Reactivates over SCIM (source `scim`, actor `system:scim`). Providers reactivate right after
 * a deactivation; while its run is still going the reactivation waits for it, up to ten
 * seconds, then answers 409 `deactivation_in_progress`. A user already active is no error.
 */
export async function reactivateOverScim(
  deps: ScimLifecycleDeps,
  orgId: string,
  userId: string,
): Promise<void> {
  const deadline = Date.now() + reactivationWaitMs;
  for (;;) {
    try {
      await reactivateUser(
        deps.models,
        { orgId, userId, actorId: scimActorId, source: 'scim', systemActor: true },
        new Date(),
      );
      return;
    } catch (error) {
      if (error instanceof AppError && error.code === 'already_active') return;
      const waiting =
        error instanceof AppError &&
        error.code === 'deactivation_in_progress' &&
        Date.now() + pollMs < deadline;
      if (!waiting) throw error;
      await sleep(pollMs);
    }
  }
}

/**
 * Erases a user SCIM deleted, once their deactivation has completed: the API's deletion, as
 * `system:scim`. Returns false while the run has not completed (the erasure reconciler tries
 * again later, see docs/scim.md).
 */
export async function eraseWhenDeactivated(
  deps: Pick<ScimLifecycleDeps, 'models' | 'flows'>,
  orgId: string,
  userId: string,
): Promise<boolean> {
  try {
    await requestErasure(
      deps,
      { orgId, userId, actorId: scimActorId, systemActor: true },
      new Date(),
    );
    return true;
  } catch (error) {
    if (error instanceof AppError && error.code === 'user_deleted') return true;
    if (error instanceof AppError && error.code === 'not_deactivated') return false;
    throw error;
  }
}

/**
 * `DELETE /Users/:id`: deactivates the user if they are active (a refusal is thrown and
 * changes nothing), marks them pending erasure (SCIM answers 404 for them from now on), and
 * erases them at once when their run has already completed; otherwise the erasure reconciler
 * does it after the run completes.
 */
export async function deleteOverScim(
  deps: ScimLifecycleDeps,
  user: { _id: string; orgId: string; status: string },
  requestId?: string,
): Promise<void> {
  if (user.status === 'active') await deactivateOverScim(deps, user.orgId, user._id, requestId);
  await deps.models.users.updateOne(
    { _id: user._id, orgId: user.orgId, status: { $ne: 'deleted' } },
    { $set: { erasurePending: true, erasureRequestedAt: new Date() } },
  );
  await eraseWhenDeactivated(deps, user.orgId, user._id);
}
