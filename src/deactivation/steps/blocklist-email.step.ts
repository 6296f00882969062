import { ulid } from 'ulid';
import { hashEmail, normalizeEmail } from '../../domain/email';
import { AppError } from '../../errors/app-error';
import { isDuplicateKey } from '../../store/duplicate-key';
import type { Step } from './step';

/**
 * Adds the user's normalized email to the organization's blocklist. The unique index on
 * (orgId, emailHash) and an upsert make concurrent runs insert one entry; `blocked` is 1 when
 * this run's entry is the one that exists.
 */
export const blocklistEmail: Step<{ blocked: number }> = async (input, { models }) => {
  if (input.apply) {
    const email =
      input.email !== undefined
        ? (input.email ?? '')
        : ((await models.users.findOne({ _id: input.userId, orgId: input.orgId }).lean())?.email ??
          '');
    if (email === '') {
      throw new AppError('invalid_step_data', `User ${input.userId} has no email to blocklist`);
    }
    try {
      const { upsertedCount } = await models.blocklist.updateOne(
        { orgId: input.orgId, emailHash: hashEmail(email) },
        {
          $setOnInsert: {
            _id: ulid(),
            email: normalizeEmail(email),
            reason: 'user_deactivated',
            createdAt: input.now,
            createdBy: input.actorId,
            deactivationId: input.runId,
          },
        },
        { upsert: true },
      );
      if (input.firstAttempt === true) return { blocked: upsertedCount };
    } catch (error) {
      // A concurrent upsert won the unique index: the entry exists, which is all this wants.
      if (!isDuplicateKey(error)) throw error;
      // On a first attempt that upsert was another run's (see StepInput.firstAttempt).
      if (input.firstAttempt === true) return { blocked: 0 };
    }
  }
  // One run deactivates one user, so at most one entry carries its id; counting by run id keeps
  // the answer the same after the user is erased and their email is gone.
  return {
    blocked: await models.blocklist.countDocuments({
      orgId: input.orgId,
      deactivationId: input.runId,
    }),
  };
};
