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
  // One equality lookup per planned team (a handful): `$in` would scan every team on FerretDB.
  const stillMember = await Promise.all(
    input.plan.teamIds.map((_id) => models.teams.exists({ _id, memberIds: input.userId })),
  );
  const teams = stillMember.filter((found) => found === null).length;
  return { teams };
};
