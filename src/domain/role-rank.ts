import type { UserRole } from '../models/user.model';

const ranks: Record<UserRole, number> = { admin: 3, manager: 2, member: 1 };

/** How a role ranks for "may not deactivate anyone ranking higher"; customers rank as member. */
export function roleRank(user: { kind: string; role: UserRole }): number {
  return user.kind === 'customer' ? ranks.member : ranks[user.role];
}
