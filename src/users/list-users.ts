import type { QueryFilter } from 'mongoose';
import { classifyActivity, inactivityCutoff, type Activity } from '../domain/activity';
import type { Models } from '../models/create-models';
import type { User, UserStatus } from '../models/user.model';
import { keysetPage, type PageKey } from '../store/keyset-page';

/** A page request of the activity listing. */
export interface ListUsersQuery {
  orgId: string;
  activity?: Activity | undefined;
  inactiveDays: number;
  status?: UserStatus | undefined;
  kind?: User['kind'] | undefined;
  limit: number;
  /** The last item of the previous page: its `lastLoginAt` (ms, or null) and id. */
  after?: PageKey | null | undefined;
  /** Emails and names only for keys with the `admin` scope. */
  includeEmail: boolean;
}

/** A user as the listing shows them: ids and activity, no personal data unless asked. */
export interface UserListItem {
  id: string;
  kind: User['kind'];
  role: User['role'];
  status: User['status'];
  lastLoginAt: Date | null;
  activity: Activity;
  email?: string | null;
  name?: string | null;
}

function fullName(
  first: string | null | undefined,
  last: string | null | undefined,
): string | null {
  const name = [first, last].filter((part) => typeof part === 'string' && part !== '').join(' ');
  return name === '' ? null : name;
}

/**
 * Pages through an organization's users by last login (oldest first, never-logged-in first of
 * all), on the (orgId, status, lastLoginAt, _id) index with a cursor: never a full load.
 */
export async function listUsers(
  models: Models,
  query: ListUsersQuery,
  now: Date,
): Promise<{ items: UserListItem[]; next: PageKey | null }> {
  const cutoff = inactivityCutoff(now, query.inactiveDays);
  const clauses: QueryFilter<User>[] = [
    { orgId: query.orgId },
    { status: query.status ?? { $in: ['active', 'inactive'] } },
  ];
  if (query.kind !== undefined) clauses.push({ kind: query.kind });
  if (query.activity === 'never_logged_in') clauses.push({ lastLoginAt: null });
  if (query.activity === 'inactive') clauses.push({ lastLoginAt: { $type: 'date', $lt: cutoff } });
  if (query.activity === 'active') clauses.push({ lastLoginAt: { $type: 'date', $gte: cutoff } });
  const projection = {
    _id: 1,
    kind: 1,
    role: 1,
    status: 1,
    lastLoginAt: 1,
    ...(query.includeEmail ? { email: 1, firstName: 1, lastName: 1 } : {}),
  };
  const page = await keysetPage(models.users, {
    filter: { $and: clauses },
    key: 'lastLoginAt',
    order: 'asc',
    limit: query.limit,
    after: query.after,
    projection,
  });
  return {
    items: page.items.map((user) => ({
      id: user._id,
      kind: user.kind,
      role: user.role,
      status: user.status,
      lastLoginAt: user.lastLoginAt,
      activity: classifyActivity(user.lastLoginAt, query.inactiveDays, now),
      ...(query.includeEmail
        ? { email: user.email ?? null, name: fullName(user.firstName, user.lastName) }
        : {}),
    })),
    next: page.next,
  };
}
