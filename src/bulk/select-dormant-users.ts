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

/** The user fields selection needs, and what a bulk item keeps of them; nothing personal. */
export type SelectedUser = Pick<User, '_id' | 'role' | 'kind' | 'reactivatedAt'>;

/**
 * The filter of an organization's active users that match `criteria`, or null when no criterion
 * is set. Exported so the sweep benchmark's floor selects exactly what a sweep selects.
 */
export function dormantUsersFilter(
  orgId: string,
  criteria: DormancyCriteria,
  now: Date,
): QueryFilter<User> | null {
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
  if (branches.length === 0) return null;
  const base: QueryFilter<User> = { orgId, status: 'active' };
  if (criteria.exemptRoles?.length) base.role = { $nin: criteria.exemptRoles };
  if (branches.length === 1) Object.assign(base, branches[0]);
  else base.$or = branches;
  return base;
}

/**
 * Pages through an organization's active users that match `criteria` with one database cursor,
 * never loading them all: memory stays flat however many users match.
 */
export async function* selectDormantUsers(
  models: Models,
  orgId: string,
  criteria: DormancyCriteria,
  now: Date,
  pageSize = 1_000,
): AsyncGenerator<SelectedUser[]> {
  const base = dormantUsersFilter(orgId, criteria, now);
  if (base === null) return;

  // One cursor streamed in batches: the store scans once, and memory holds one page at a time
  // (a query per page would rescan from the start on FerretDB, which cannot seek by `_id`).
  const cursor = models.users
    .find(base, { _id: 1, role: 1, kind: 1, reactivatedAt: 1 })
    .sort({ _id: 1 })
    .lean()
    .cursor({ batchSize: pageSize });
  let page: SelectedUser[] = [];
  for await (const user of cursor) {
    page.push(user);
    if (page.length === pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}
