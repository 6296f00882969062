/** A team as the transfer rule sees it. */
export interface TeamForTransfer {
  _id: string;
  leaderId: string | null;
  createdAt: Date;
}

/** Where the user's open opportunities go; `null` leaves them where they are (`retained`). */
export interface TransferTarget {
  to: string;
  teamId: string;
}

/** Teams in the order the rule walks them: `createdAt`, then `_id`. */
export function orderTeams<T extends TeamForTransfer>(teams: readonly T[]): T[] {
  return [...teams].sort(
    (a, b) =>
      a.createdAt.getTime() - b.createdAt.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0),
  );
}

/**
 * The transfer target of docs/rules.md: the leader of the user's first team; a user in no team
 * goes to the leader of the organization's first team. A leader who is not active (or is the
 * user) does not count: the next team in the same order is taken. No such team → `null`, and
 * the opportunities stay where they are.
 *
 * @param ownTeams the teams the user is a member of
 * @param orgTeams the organization's teams; consulted only when `ownTeams` is empty
 */
export function chooseTransferTarget(
  userId: string,
  teams: { ownTeams: readonly TeamForTransfer[]; orgTeams: readonly TeamForTransfer[] },
  activeUserIds: ReadonlySet<string>,
): TransferTarget | null {
  const candidates = orderTeams(teams.ownTeams.length > 0 ? teams.ownTeams : teams.orgTeams);
  const chosen = candidates.find(
    (team) =>
      team.leaderId !== null && team.leaderId !== userId && activeUserIds.has(team.leaderId),
  );
  return chosen?.leaderId ? { to: chosen.leaderId, teamId: chosen._id } : null;
}
