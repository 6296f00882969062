import { createHash } from 'node:crypto';
import type { User } from '../models/user.model';
import { scimUrns } from './scim-constants';

/** A User resource as offboard serves it (RFC 7643 §4.1, the attributes of docs/scim.md). */
export interface ScimUser {
  schemas: [typeof scimUrns.user];
  id: string;
  externalId?: string;
  userName: string;
  name?: { givenName?: string; familyName?: string };
  emails: { value: string; type: 'work'; primary: true }[];
  active: boolean;
  meta: {
    resourceType: 'User';
    created: string;
    lastModified: string;
    location: string;
    version: string;
  };
}

/** The latest of the user's writes that offboard dates: creation, profile, lifecycle. */
export function lastModified(user: User): Date {
  const dates = [user.createdAt, user.profileUpdatedAt, user.deactivatedAt, user.reactivatedAt];
  return new Date(Math.max(...dates.map((date) => date?.getTime() ?? 0)));
}

/**
 * The weak ETag of the user's SCIM representation: a hash of every served attribute and of the
 * last dated write, so any change the provider can see, and every profile or lifecycle write,
 * gives a new one. `meta.version` carries the same value.
 */
export function etagOf(user: User): string {
  const hash = createHash('sha256')
    .update(
      JSON.stringify([
        user._id,
        user.email ?? null,
        user.firstName ?? null,
        user.lastName ?? null,
        user.externalId ?? null,
        user.status,
        lastModified(user).getTime(),
      ]),
    )
    .digest('base64url')
    .slice(0, 22);
  return `W/"${hash}"`;
}

/** Whether an `If-Match` / `If-None-Match` header names the ETag (weak comparison, or `*`). */
export function etagMatches(header: string, etag: string): boolean {
  const bare = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

/** Maps a stored user to its SCIM resource; `usersUrl` is the tenant's `/Users` URL. */
export function toScimUser(user: User, usersUrl: string): ScimUser {
  const email = user.email ?? '';
  const name = {
    ...(user.firstName ? { givenName: user.firstName } : {}),
    ...(user.lastName ? { familyName: user.lastName } : {}),
  };
  return {
    schemas: [scimUrns.user],
    id: user._id,
    ...(user.externalId ? { externalId: user.externalId } : {}),
    userName: email,
    ...(Object.keys(name).length > 0 ? { name } : {}),
    emails: email === '' ? [] : [{ value: email, type: 'work', primary: true }],
    active: user.status === 'active',
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: lastModified(user).toISOString(),
      location: `${usersUrl}/${encodeURIComponent(user._id)}`,
      version: etagOf(user),
    },
  };
}
