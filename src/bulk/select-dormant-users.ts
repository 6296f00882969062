import type { QueryFilter } from 'mongoose';
import { inactivityCutoff } from '../domain/activity';
import type { Models } from '../models/create-models';
import type { User, UserRole } from '../models/user.model';

/** Which active users count as dormant. */
export interface DormancyCriteria {
  /** Last login more than this many days ago. */
  inactiveDays: number | null;
  /** Never logged in, and created at least this many days ago. */
  neverLoggedInDays: number | null;
  /** Roles left out entirely (a sweep's exempt roles). */
  exemptRoles?: UserRole[];
}

/** The user fields selection needs; nothing personal. */
export type SelectedUser = Pick<User, '_id' | 'role' | 'kind'>;

/**
 * Pages through an organization's active users that match `criteria`, by `_id` cursor, never
 * loading them all: memory stays flat however many users match.
 */
export async function* selectDormantUsers(
  models: Models,
  orgId: string,
  criteria: DormancyCriteria,
  now: Date,
  pageSize = 1_000,
): AsyncGenerator<SelectedUser[]> {
  const branches: QueryFilter<User>[] = [];
  if (criteria.inactiveDays !== null) {
    branches.push({
      lastLoginAt: { $type: 'date', $lt: inactivityCutoff(now, criteria.inactiveDays) },
    });
  }
  if (criteria.neverLoggedInDays !== null) {
    branches.push({
      lastLoginAt: null,
      createdAt: { $lt: inactivityCutoff(now, criteria.neverLoggedInDays) },
    });
  }
  if (branches.length === 0) return;
  const base: QueryFilter<User> = { orgId, status: 'active' };
  if (criteria.exemptRoles?.length) base.role = { $nin: criteria.exemptRoles };
  if (branches.length === 1) Object.assign(base, branches[0]);
  else base.$or = branches;

  let after: string | null = null;
  for (;;) {
    const filter: QueryFilter<User> =
      after === null ? base : { $and: [base, { _id: { $gt: after } }] };
    const page: SelectedUser[] = await models.users
      .find(filter, { _id: 1, role: 1, kind: 1 })
      .sort({ _id: 1 })
      .limit(pageSize)
      .lean();
    if (page.length === 0) return;
    yield page;
    if (page.length < pageSize) return;
    after = page[page.length - 1]?._id ?? null;
  }
}
