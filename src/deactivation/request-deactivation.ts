import type { FlowProducer } from 'bullmq';
import { ulid } from 'ulid';
import { AppError } from '../errors/app-error';
import type { KeyedLock } from '../infra/redis-lock';
import { toAppError } from '../errors/to-app-error';
import type { Models } from '../models/create-models';
import { stepNames, type Deactivation } from '../models/deactivation.model';
import type { User } from '../models/user.model';
import { enqueueRun } from '../queues/deactivation-flow';
import { isDuplicateKey } from '../store/duplicate-key';
import { assessDeactivation, type DeactivationRequest } from './assess-deactivation';

/** A pending run this old whose user is still active was left half-way by its request. */
const strandedAfterMs = 1_000;

/**
 * A test seam, empty in production: awaited by every request after its checks passed and
 * before anything is written. The last-admin race test parks two requests here so that both
 * have passed the checks before either switches its user, which makes the race certain.
 */
export const acceptanceSeam: {
  afterChecks?: ((request: DeactivationRequest) => Promise<void>) | undefined;
} = {};

/** What accepting a deactivation needs. */
export interface RequestDeactivationDeps {
  models: Models;
  flows: FlowProducer;
  /** Serializes the switch of an organization's admins (see the last-admin recount). */
  locks: KeyedLock;
}

/**
 * The claim of a run: one per user and active period. A reactivation starts a new period, so
 * the user can be deactivated again.
 */
export function runClaim(user: Pick<User, '_id' | 'orgId' | 'reactivatedAt'>): string {
  return `${user.orgId}/${user._id}/${user.reactivatedAt?.getTime() ?? 0}`;
}

/** Builds the run document for an accepted request: every step pending or skipped. */
export function newRun(
  request: DeactivationRequest,
  user: Pick<User, '_id' | 'orgId' | 'reactivatedAt'>,
  plan: Deactivation['plan'],
  now: Date,
  runId: string = ulid(),
): Deactivation {
  return {
    _id: runId,
    claim: runClaim(user),
    orgId: request.orgId,
    userId: request.userId,
    actorId: request.actorId,
    source: request.source,
    reason: request.reason ?? null,
    allowReactivationOnPurchase: plan.allowReactivationOnPurchase,
    status: 'pending',
    plan,
    steps: stepNames.map((name) => ({
      name,
      status: plan.steps[name] ? 'pending' : 'skipped',
      attempts: 0,
      result: null,
      error: null,
      completedAt: null,
    })),
    createdAt: now,
    completedAt: null,
  };
}

/**
 * Accepts a deactivation: checks it, writes the run (its unique claim lets exactly one of racing
 * requests through), switches the user to `inactive`, then enqueues the run's flow.
 *
 * The run is written before anything else so that a crash leaves nothing the reconciler
 * cannot see. When Redis refuses the flow, the run stays in MongoDB for the reconciler and the
 * caller gets 503 `service_unavailable` naming it.
 */
export async function requestDeactivation(
  deps: RequestDeactivationDeps,
  request: DeactivationRequest,
  trace: { requestId?: string; now?: Date; runId?: string } = {},
): Promise<Deactivation> {
  const { models } = deps;
  // `now` and `runId` are the caller's only in tests that need identical runs in two stores.
  const now = trace.now ?? new Date();
  const { user, plan } = await assessDeactivation(models, request, now);
  if (acceptanceSeam.afterChecks) await acceptanceSeam.afterChecks(request);
  const accept = async (): Promise<Deactivation> => {
    let run = newRun(request, user, plan, now, trace.runId);
    let adopted = false;
    try {
      await models.deactivations.insertMany([run]);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // The claim is taken. When it is this actor's own run, still pending and the user still
      // active, an earlier attempt of this request stopped half-way (the store failed after the
      // run was written): finish that acceptance instead of refusing the retry.
      // Runs younger than a second belong to a request still racing this one: that one answers.
      const existing = await models.deactivations.findOne({ claim: run.claim }).lean();
      if (
        existing?.status !== 'pending' ||
        existing.actorId !== request.actorId ||
        now.getTime() - existing.createdAt.getTime() < strandedAfterMs
      ) {
        throw new AppError(
          'deactivation_in_progress',
          'A deactivation of this user is already under way',
        );
      }
      run = existing;
      adopted = true;
    }

    const flipped = await models.users.updateOne(
      { _id: user._id, orgId: request.orgId, status: 'active' },
      {
        $set: {
          status: 'inactive',
          deactivatedAt: now,
          deactivatedBy: request.actorId,
          deactivationId: run._id,
          allowReactivationOnPurchase: plan.allowReactivationOnPurchase,
        },
      },
    );
    if (flipped.modifiedCount !== 1) {
      const current = await models.users.findOne({ _id: user._id, orgId: request.orgId }).lean();
      // A retry of this request that adopted the run may have switched the user first.
      const switchedForThisRun =
        current?.status === 'inactive' && current.deactivationId === run._id;
      if (!switchedForThisRun) {
        // The user changed since the checks (deleted, or deactivated by another path).
        if (!adopted) await models.deactivations.deleteOne({ _id: run._id, status: 'pending' });
        throw new AppError('already_inactive', 'The user is no longer active');
      }
    }
    if (user.kind === 'employee' && user.role === 'admin') {
      // The checks counted the admins before this turn began: a request that switched another
      // admin meanwhile may have left this one the last, and then this one gives way.
      const admins = await models.users.countDocuments({
        orgId: request.orgId,
        kind: 'employee',
        role: 'admin',
        status: 'active',
      });
      if (admins === 0) {
        await models.users.updateOne(
          { _id: user._id, deactivationId: run._id, status: 'inactive' },
          {
            $set: { status: 'active' },
            $unset: { deactivatedAt: 1, deactivatedBy: 1, deactivationId: 1 },
          },
        );
        await models.deactivations.deleteOne({ _id: run._id, status: 'pending' });
        throw new AppError(
          'last_admin',
          'The last active admin of an organization cannot be deactivated',
        );
      }
    }
    return run;
  };
  // Switching an admin and counting the admins left take turns per organization: two admins
  // deactivating each other at once would otherwise both count none left and both give way.
  const run =
    user.kind === 'employee' && user.role === 'admin'
      ? await deps.locks.run(`admins:${request.orgId}`, accept)
      : await accept();

  try {
    await enqueueRun(deps.flows, run, trace.requestId);
  } catch (error) {
    const appError = toAppError(error);
    throw new AppError(
      appError.code === 'internal' ? 'service_unavailable' : appError.code,
      'The deactivation was accepted and recorded but could not be queued; it will be queued automatically',
      { details: { deactivationId: run._id }, cause: error },
    );
  }
  return run;
}
