import type { Step } from './step';

/**
 * Removes the user from every sales team. `$pull` is idempotent; the count is of the teams the
 * plan found the user in that no longer list them, so a re-run reports the same number. Right
 * after the pull that is every planned team: a first attempt whose pull modified exactly as many
 * teams as were planned (the usual case) reports that without asking; any other outcome (teams
 * joined, left or deleted since the plan) is checked team by team, as a later attempt is.
 *
 * A team is the one document several runs write (members leaving at the same time, a bulk or a
 * sweep). FerretDB v1 applies an update as read, modify, write without locking, so concurrent
 * `$pull`s of one team undo each other (measured: 20 at once left 18 of 20 members listed). The
 * organization's team writes therefore take turns under a lock.
 */
export const removeFromTeams: Step<{ teams: number }> = async (input, { models, locks }) => {
  if (input.apply) {
    const pulled = await locks.run(`teams:${input.orgId}`, () =>
      models.teams.updateMany(
        { orgId: input.orgId, memberIds: input.userId },
        { $pull: { memberIds: input.userId } },
      ),
    );
    const planned = input.plan.teamIds.length;
    if (input.firstAttempt === true && pulled.modifiedCount === planned) return { teams: planned };
  }
  // One equality lookup per planned team (a handful), not `$in` (src/store/per-key-queries.ts).
  const stillMember = await Promise.all(
    input.plan.teamIds.map((_id) => models.teams.exists({ _id, memberIds: input.userId })),
  );
  const teams = stillMember.filter((found) => found === null).length;
  return { teams };
};
