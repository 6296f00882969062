import type { QueryFilter } from 'mongoose';
import { classifyActivity, inactivityCutoff, type Activity } from '../domain/activity';
import type { Models } from '../models/create-models';
import type { User, UserStatus } from '../models/user.model';

/** A page request of the activity listing. */
export interface ListUsersQuery {
  orgId: string;
  activity?: Activity | undefined;
  inactiveDays: number;
  status?: UserStatus | undefined;
  kind?: User['kind'] | undefined;
  limit: number;
  /** The last item of the previous page: its `lastLoginAt` (ms, or null) and id. */
  after?: { lastLoginAt: number | null; id: string } | undefined;
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
): Promise<{ items: UserListItem[]; next: { lastLoginAt: number | null; id: string } | null }> {
  const cutoff = inactivityCutoff(now, query.inactiveDays);
  const clauses: QueryFilter<User>[] = [
    { orgId: query.orgId },
    { status: query.status ?? { $in: ['active', 'inactive'] } },
  ];
  if (query.kind !== undefined) clauses.push({ kind: query.kind });
  if (query.activity === 'never_logged_in') clauses.push({ lastLoginAt: null });
  if (query.activity === 'inactive') clauses.push({ lastLoginAt: { $type: 'date', $lt: cutoff } });
  if (query.activity === 'active') clauses.push({ lastLoginAt: { $type: 'date', $gte: cutoff } });
  if (query.after) {
    const { lastLoginAt, id } = query.after;
    clauses.push(
      lastLoginAt === null
        ? { $or: [{ lastLoginAt: null, _id: { $gt: id } }, { lastLoginAt: { $type: 'date' } }] }
        : {
            $or: [
              { lastLoginAt: { $gt: new Date(lastLoginAt) } },
              { lastLoginAt: new Date(lastLoginAt), _id: { $gt: id } },
            ],
          },
    );
  }
  const projection = {
    _id: 1,
    kind: 1,
    role: 1,
    status: 1,
    lastLoginAt: 1,
    ...(query.includeEmail ? { email: 1, firstName: 1, lastName: 1 } : {}),
  };
  const users = await models.users
    .find({ $and: clauses }, projection)
    .sort({ lastLoginAt: 1, _id: 1 })
    .limit(query.limit + 1)
    .lean();
  const page = users.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map((user) => ({
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
    next:
      users.length > query.limit && last
        ? { lastLoginAt: last.lastLoginAt ? last.lastLoginAt.getTime() : null, id: last._id }
        : null,
  };
}
