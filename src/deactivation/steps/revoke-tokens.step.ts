import type { Step } from './step';

/**
 * Revokes the user's sessions, refresh tokens and API keys issued before the run's cutoff.
 * `revokedAt: null` makes a re-run or a concurrent duplicate change nothing; tokens issued after
 * the cutoff (after a later reactivation) are never touched.
 */
export const revokeTokens: Step<{ revoked: number }> = async (input, { models }) => {
  if (input.apply) {
    const { modifiedCount } = await models.tokens.updateMany(
      {
        userId: input.userId,
        orgId: input.orgId,
        revokedAt: null,
        issuedAt: { $lte: input.plan.cutoff },
      },
      {
        $set: {
          revokedAt: input.now,
          revokedReason: 'user_deactivated',
          revokedByDeactivationId: input.runId,
        },
      },
    );
    if (input.firstAttempt === true) return { revoked: modifiedCount };
  }
  return { revoked: await models.tokens.countDocuments({ revokedByDeactivationId: input.runId }) };
};
