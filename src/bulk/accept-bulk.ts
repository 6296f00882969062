import type { Queue } from 'bullmq';
import { assertActorMayAct } from '../domain/deactivation-policy';
import { AppError } from '../errors/app-error';
import type { BulkDeactivation, BulkFilter } from '../models/bulk-deactivation.model';
import type { Models } from '../models/create-models';
import type { KeyedLock } from '../infra/redis-lock';
import { enqueueBulk } from '../queues/bulk-queue';
import { newBulk, SelectionWriter } from './bulk-selection';
import { selectDormantUsers, type DormancyCriteria } from './select-dormant-users';

/** A bulk deactivation as asked for. */
export interface BulkRequest {
  orgId: string;
  actorId: string;
  userIds?: string[] | undefined;
  filter?: BulkFilter | undefined;
  dryRun: boolean;
  reason?: string | null | undefined;
  allowReactivationOnPurchase?: boolean | undefined;
}

/** What accepting a bulk needs. */
export interface AcceptBulkDeps {
  models: Models;
  bulkQueue: Queue;
  /** Serializes the admissions of one organization across every API process. */
  locks: KeyedLock;
  /** Bulks of one organization that may be pending or running at once. */
  maxPendingPerOrg: number;
}

/** What a refused caller is told to wait: bulks take minutes, not seconds. */
const capRetryAfterSeconds = 30;

/**
 * Accepts a bulk deactivation: checks the actor and the organization's cap of pending bulks,
 * freezes the selection (explicit ids, or the users matching the filter right now) as items,
 * and queues the job. Later logins do not change the selection; each user is checked again when
 * their turn comes.
 *
 * @throws AppError `too_many_requests` when the organization already has `maxPendingPerOrg`
 * bulks (dry runs included) pending or running.
 */
export async function acceptBulk(
  deps: AcceptBulkDeps,
  request: BulkRequest,
): Promise<BulkDeactivation> {
  // Counting and creating under one lock per organization: concurrent requests could otherwise
  // all count below the cap before any of them is written.
  return deps.locks.run(`bulk-admission:${request.orgId}`, () => admit(deps, request));
}

async function admit(deps: AcceptBulkDeps, request: BulkRequest): Promise<BulkDeactivation> {
  const { models } = deps;
  const now = new Date();
  const [orgExists, actor] = await Promise.all([
    models.organizations.exists({ _id: request.orgId }),
    models.users.findOne({ _id: request.actorId, orgId: request.orgId }).lean(),
  ]);
  if (!orgExists) throw new AppError('not_found', `Unknown organization ${request.orgId}`);
  // The actor's own standing is checked once, up front; rules about each user come per user.
  assertActorMayAct(actor);
  const pending = await models.bulkDeactivations.countDocuments({
    orgId: request.orgId,
    source: 'bulk',
    status: { $in: ['pending', 'running'] },
  });
  if (pending >= deps.maxPendingPerOrg) {
    throw new AppError(
      'too_many_requests',
      `This organization already has ${pending} bulk deactivations pending or running (at most ${deps.maxPendingPerOrg}); wait for one to finish`,
      {
        details: {
          retryAfterSeconds: capRetryAfterSeconds,
          pending,
          limit: deps.maxPendingPerOrg,
        },
      },
    );
  }

  const bulk = newBulk(
    {
      orgId: request.orgId,
      actorId: request.actorId,
      source: 'bulk',
      sweepId: null,
      reason: request.reason ?? null,
      allowReactivationOnPurchase: request.allowReactivationOnPurchase ?? false,
      dryRun: request.dryRun,
      filter: request.filter ?? null,
      createdAt: now,
    },
    'pending',
  );
  const selection = new SelectionWriter(models, bulk._id, { dryRun: bulk.dryRun });
  if (request.userIds) {
    await selection.add(new Set(request.userIds));
  } else if (request.filter) {
    // As in the user listing, `never_logged_in` is every user who never logged in, whatever
    // `inactiveDays` says (docs/sweeps-and-bulks.md): an age of 0 days takes every account created so far.
    const criteria: DormancyCriteria =
      request.filter.activity === 'never_logged_in'
        ? { inactiveDays: null, neverLoggedInDays: 0 }
        : { inactiveDays: request.filter.inactiveDays, neverLoggedInDays: null };
    for await (const page of selectDormantUsers(models, request.orgId, criteria, now)) {
      await selection.add(page);
    }
  }
  await selection.flush();
  bulk.matched = selection.count;
  await models.bulkDeactivations.create(bulk);
  await enqueueBulk(deps.bulkQueue, bulk);
  return bulk;
}
