import type { Job } from 'bullmq';
import { hashEmail } from '../../domain/email';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../logging/logger';
import type { Models } from '../../models/create-models';
import type { ErasureJobData } from '../../queues/erasure-queue';

/** What an erasure reports: ids and the tombstone's time, nothing personal. */
export interface ErasureResult {
  userId: string;
  deletedAt: Date;
}

/**
 * Erases a deleted user's personal data (docs/rules.md). Every write is idempotent, so a retry,
 * a re-queued job or two jobs at once leave the same state:
 *
 * - `blocklist`: the entry for their email keeps `emailHash` only (`email` unset), so purchases
 *   from the address are still refused without the address being kept;
 * - `tokens`, `subscriptions`: theirs are deleted;
 * - `auditEvents` about them: the free-text `data.reason` is removed; ids stay;
 * - `deactivations` of them: the free-text `reason` is cleared (it may name them); the plan and
 *   step results are ids and counts;
 * - `idempotencyRecords`: the `reason` in stored responses about their runs is cleared, as above;
 * - `users`: the tombstone — `email`, `firstName`, `lastName` unset; `emailHash` (SHA-256 of the
 *   normalized email) and `deletedAt` set; ids, kind, role, status and dates stay.
 *
 * Opportunities need nothing: open ones were transferred by the deactivation and closed ones
 * keep only the owner id; teams hold ids only. The user document goes last: its `deletedAt`
 * says the erasure finished, and until then its email is still there to compute the hash from.
 */
export async function eraseUser(
  models: Models,
  data: ErasureJobData,
  now: Date = new Date(),
): Promise<ErasureResult> {
  const { orgId, userId } = data;
  const user = await models.users.findOne({ _id: userId, orgId }).lean();
  if (!user) throw new AppError('user_not_found', `User ${userId} does not exist`);
  if (user.status !== 'deleted') {
    // Only the deletion request sets this status, before queueing: erasing anyone else would
    // destroy data nobody asked to destroy.
    throw new AppError('user_not_deleted', `User ${userId} is not deleted; nothing was erased`);
  }
  const emailHash = user.email ? hashEmail(user.email) : (user.emailHash ?? null);

  await Promise.all([
    emailHash === null
      ? null
      : models.blocklist.updateMany(
          { orgId, emailHash, email: { $exists: true } },
          { $unset: { email: 1 } },
        ),
    models.tokens.deleteMany({ orgId, userId }),
    models.subscriptions.deleteMany({ orgId, userId }),
    models.auditEvents.updateMany(
      { orgId, subjectId: userId, 'data.reason': { $exists: true } },
      { $unset: { 'data.reason': 1 } },
    ),
    models.deactivations.updateMany(
      { orgId, userId, reason: { $ne: null } },
      { $set: { reason: null } },
    ),
    // Not indexed: the collection holds one day of responses, and erasures are rare.
    models.idempotencyRecords.updateMany(
      {
        'responseBody.orgId': orgId,
        'responseBody.userId': userId,
        'responseBody.reason': { $ne: null },
      },
      { $set: { 'responseBody.reason': null } },
    ),
  ]);

  const deletedAt = user.deletedAt ?? now;
  await models.users.updateOne(
    { _id: userId, orgId, status: 'deleted' },
    {
      $unset: { email: 1, firstName: 1, lastName: 1 },
      $set: { deletedAt, ...(emailHash === null ? {} : { emailHash }) },
    },
  );
  return { userId, deletedAt };
}

/** What the erasure job needs. */
export interface ErasureJobDeps {
  models: Models;
  logger: Logger;
}

/** The `erase` job of the `erasures` queue. */
export async function processErasureJob(
  job: Job<ErasureJobData>,
  deps: ErasureJobDeps,
): Promise<ErasureResult> {
  const result = await eraseUser(deps.models, job.data);
  deps.logger.info({ orgId: job.data.orgId, userId: job.data.userId }, 'user erased');
  return result;
}
