import type { Step } from './step';

/**
 * Hands the user's open opportunities to the planned target, appending one `transfers` entry
 * per opportunity for this run. The owner condition plus "no entry for this run yet" make every
 * opportunity move exactly once. Without a target they stay and are reported as `retained`.
 */
export const transferOpportunities: Step<{
  transferred: number;
  to: string | null;
  retained: number;
}> = async (input, { models }) => {
  const to = input.plan.transferTo;
  if (to === null) {
    const retained = await models.opportunities.countDocuments({
      ownerId: input.userId,
      orgId: input.orgId,
      status: 'open',
    });
    return { transferred: 0, to: null, retained };
  }
  if (input.apply) {
    const { modifiedCount } = await models.opportunities.updateMany(
      {
        ownerId: input.userId,
        orgId: input.orgId,
        status: 'open',
        'transfers.deactivationId': { $ne: input.runId },
      },
      {
        $set: { ownerId: to },
        $push: {
          transfers: { from: input.userId, to, at: input.now, deactivationId: input.runId },
        },
        // The same run id at the top level, so the count below is an equality FerretDB v1
        // pushes down rather than a scan of every opportunity (see the model).
        $addToSet: { transferDeactivationIds: input.runId },
      },
    );
    if (input.firstAttempt === true) return { transferred: modifiedCount, to, retained: 0 };
  }
  const transferred = await models.opportunities.countDocuments({
    transferDeactivationIds: input.runId,
  });
  return { transferred, to, retained: 0 };
};
