import type { Step } from './step';

/**
 * Removes the user from every sales team. `$pull` is idempotent; the count is of the teams the
 * plan found the user in that no longer list them, so a re-run reports the same number.
 */
export const removeFromTeams: Step<{ teams: number }> = async (input, { models }) => {
  if (input.apply) {
    await models.teams.updateMany(
      { orgId: input.orgId, memberIds: input.userId },
      { $pull: { memberIds: input.userId } },
    );
  }
  const teams = await models.teams.countDocuments({
    _id: { $in: input.plan.teamIds },
    memberIds: { $ne: input.userId },
  });
  return { teams };
};
