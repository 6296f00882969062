import type { Job } from 'bullmq';
import { hashEmail } from '../../domain/email';
import { mentionPattern } from '../../domain/mention-pattern';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../logging/logger';
import type { Models } from '../../models/create-models';
import type { User } from '../../models/user.model';
import type { ErasureJobData } from '../../queues/erasure-queue';
import { eraseReasonsInStoredResponses } from '../../idempotency/erase-stored-reasons';
import { recordUserDeleted } from '../../webhooks/webhook-facts';

/** What an erasure reports: ids and the tombstone's time, nothing personal. */
export interface ErasureResult {
  userId: string;
  deletedAt: Date;
}

/**
 * Clears the free-text reasons tied to the user or naming them (see {@link eraseUser}). Every
 * write is a conditional update, so running it again changes nothing.
 */
async function eraseReasons(models: Models, user: User): Promise<void> {
  const { orgId, _id: userId } = user;
  const mentions = mentionPattern(user);
  // A reason about them (structurally), or one naming them (by its text): either kind goes.
  const about = (tied: Record<string, unknown>, field: string): Record<string, unknown> =>
    mentions === null ? tied : { $or: [tied, { [field]: { $regex: mentions } }] };

  // Bulks whose selection is this user alone: their reason can only be about them.
  const bulkIds = await models.bulkItems.distinct('bulkId', { userId });
  const soleSubject: string[] = [];
  for (const bulkId of bulkIds) {
    if (!(await models.bulkItems.exists({ bulkId, userId: { $ne: userId } }))) {
      soleSubject.push(bulkId);
    }
  }

  await Promise.all([
    models.deactivations.updateMany(
      { orgId, reason: { $ne: null }, ...about({ userId }, 'reason') },
      { $set: { reason: null } },
    ),
    models.bulkDeactivations.updateMany(
      { orgId, reason: { $ne: null }, ...about({ _id: { $in: soleSubject } }, 'reason') },
      { $set: { reason: null } },
    ),
    models.auditEvents.updateMany(
      { orgId, 'data.reason': { $exists: true }, ...about({ subjectId: userId }, 'data.reason') },
      { $unset: { 'data.reason': 1 } },
    ),
    eraseReasonsInStoredResponses(models, { orgId, userId, mentions }),
  ]);
}

/**
 * Erases a deleted user's personal data (docs/rules.md). Every write is idempotent, so a retry,
 * a re-queued job or two jobs at once leave the same state:
 *
 * - `blocklist`: the entry for their email keeps `emailHash` only (`email` unset), so purchases
 *   from the address are still refused without the address being kept;
 * - `tokens`, `subscriptions`: theirs are deleted;
 * - free-text reasons, wherever a caller's words are stored: `deactivations.reason`,
 *   `bulkDeactivations.reason`, `auditEvents.data.reason` and the `reason` of run views in
 *   `idempotencyRecords` — cleared when they are about the user (their runs, events about them,
 *   bulks whose only selected user they are) or when the text names them (their email, or their
 *   first or last name as a word; see {@link mentionPattern}) anywhere in the organization. A
 *   bulk of many users keeps a reason that does not name them: it is about the whole selection.
 *   Everything else these collections hold is ids, codes, counts and dates;
 * - `users`: the tombstone — `email`, `firstName`, `lastName`, `externalId` unset; `emailHash` (SHA-256 of the
 *   normalized email) and `deletedAt` set; ids, kind, role, status and dates stay.
 *
 * Opportunities need nothing: open ones were transferred by the deactivation and closed ones
 * keep only the owner id; teams hold ids only; sweep reports and bulk items hold counts and
 * reason codes, never free text. The user document goes last: its `deletedAt` says the erasure
 * finished, and until then its email and names are still there to search for.
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
    eraseReasons(models, user),
  ]);

  const deletedAt = user.deletedAt ?? now;
  await models.users.updateOne(
    { _id: userId, orgId, status: 'deleted' },
    {
      $unset: { email: 1, firstName: 1, lastName: 1, externalId: 1 },
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
export async function eraseUserJob(
  job: Job<ErasureJobData>,
  deps: ErasureJobDeps,
): Promise<ErasureResult> {
  const result = await eraseUser(deps.models, job.data);
  await recordUserDeleted(deps.models, { ...job.data, deletedAt: result.deletedAt });
  deps.logger.info({ orgId: job.data.orgId, userId: job.data.userId }, 'user erased');
  return result;
}
