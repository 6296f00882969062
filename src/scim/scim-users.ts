import type { QueryFilter } from 'mongoose';
import { ulid } from 'ulid';
import { AppError } from '../errors/app-error';
import type { User } from '../models/user.model';
import type { UserAttributes } from './attribute-values';
import { parseFilter } from './filter-parser';
import { filterToConditions } from './filter-query';
import { applyPatch } from './patch-apply';
import { normalisePatch } from './patch-normaliser';
import { userNotFound } from './scim-error';
import {
  deactivateOverScim,
  deleteOverScim,
  reactivateOverScim,
  type ScimLifecycleDeps,
} from './scim-lifecycle';
import type { UserInput } from './user-input';
import { etagMatches, etagOf } from './user-mapping';

/** One SCIM request's tenant: the organization, and the request id for the run's logs. */
export interface Tenant {
  orgId: string;
  requestId?: string;
}

/** A page of users and what the ListResponse says about it. */
export interface UserPage {
  totalResults: number;
  startIndex: number;
  users: User[];
}

/**
 * The user as SCIM sees them: 404 when unknown, of another organization, deleted, or deleted
 * over SCIM and waiting for their erasure.
 */
export async function loadScimUser(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  id: string,
): Promise<User> {
  const user = await deps.models.users.findOne({ _id: id, orgId: tenant.orgId }).lean();
  if (!user || user.status === 'deleted' || user.erasurePending === true || !user.email) {
    throw userNotFound(id);
  }
  return user;
}

/** 412 `precondition_failed` when an `If-Match` header names another version. */
export function checkIfMatch(user: User, ifMatch: string | undefined): void {
  if (ifMatch !== undefined && !etagMatches(ifMatch, etagOf(user))) {
    throw new AppError('precondition_failed', 'The user has changed since the version in If-Match');
  }
}

/**
 * `GET /Users`: the users the filter matches (every user of the organization without one), in
 * creation order so `startIndex`/`count` pages are stable; inactive users included.
 */
export async function listScimUsers(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  request: { filter: string | undefined; startIndex: number; count: number },
): Promise<UserPage> {
  const conditions =
    request.filter === undefined ? {} : filterToConditions(parseFilter(request.filter));
  if (conditions === null) return { totalResults: 0, startIndex: request.startIndex, users: [] };
  const query: QueryFilter<User> = {
    status: { $in: ['active', 'inactive'] },
    ...conditions,
    orgId: tenant.orgId,
    erasurePending: { $ne: true },
  };
  const [totalResults, users] = await Promise.all([
    deps.models.users.countDocuments(query),
    request.count === 0
      ? Promise.resolve([])
      : deps.models.users
          .find(query)
          .sort({ createdAt: 1, _id: 1 })
          .skip(request.startIndex - 1)
          .limit(request.count)
          .lean(),
  ]);
  return { totalResults, startIndex: request.startIndex, users };
}

async function assertUserNameFree(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  userName: string,
  exceptId: string | null,
): Promise<void> {
  const holder = await deps.models.users
    .findOne({ orgId: tenant.orgId, email: userName }, { _id: 1 })
    .lean();
  if (holder && holder._id !== exceptId) {
    throw new AppError('user_exists', 'Another user of the organization has this userName');
  }
}

function attributesOf(user: User): UserAttributes {
  return {
    userName: user.email ?? '',
    externalId: user.externalId ?? null,
    givenName: user.firstName ?? null,
    familyName: user.lastName ?? null,
    active: user.status === 'active',
  };
}

/**
 * Makes the user's attributes what the request asks: the userName's uniqueness first, then
 * the lifecycle (a refusal leaves everything as it was), then the profile fields.
 */
async function applyAttributes(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  user: User,
  desired: UserAttributes,
): Promise<User> {
  const current = attributesOf(user);
  if (desired.userName !== current.userName) {
    await assertUserNameFree(deps, tenant, desired.userName, user._id);
  }
  if (desired.active !== current.active) {
    if (desired.active) await reactivateOverScim(deps, tenant.orgId, user._id);
    else await deactivateOverScim(deps, tenant.orgId, user._id, tenant.requestId);
  }
  const set: Record<string, unknown> = {};
  const unset: Record<string, 1> = {};
  const write = (field: string, value: string | null): void => {
    if (value === null) unset[field] = 1;
    else set[field] = value;
  };
  if (desired.userName !== current.userName) write('email', desired.userName);
  if (desired.externalId !== current.externalId) write('externalId', desired.externalId);
  if (desired.givenName !== current.givenName) write('firstName', desired.givenName);
  if (desired.familyName !== current.familyName) write('lastName', desired.familyName);
  if (Object.keys(set).length > 0 || Object.keys(unset).length > 0) {
    await deps.models.users.updateOne(
      { _id: user._id, orgId: tenant.orgId, status: { $ne: 'deleted' } },
      {
        $set: { ...set, profileUpdatedAt: new Date() },
        ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}),
      },
    );
  }
  return loadScimUser(deps, tenant, user._id);
}

/**
 * `POST /Users`: a new employee with role `member`; 409 `user_exists` when the userName is
 * taken in the organization. `active: false` creates the user and then deactivates them.
 */
export async function createScimUser(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  input: UserInput,
): Promise<User> {
  await assertUserNameFree(deps, tenant, input.userName, null);
  const now = new Date();
  const id = ulid();
  await deps.models.users.create({
    _id: id,
    orgId: tenant.orgId,
    kind: 'employee',
    role: 'member',
    email: input.userName,
    ...(input.givenName === null ? {} : { firstName: input.givenName }),
    ...(input.familyName === null ? {} : { lastName: input.familyName }),
    ...(input.externalId === null ? {} : { externalId: input.externalId }),
    status: 'active',
    lastLoginAt: null,
    createdAt: now,
    profileUpdatedAt: now,
    allowReactivationOnPurchase: false,
  });
  if (input.active === false) await deactivateOverScim(deps, tenant.orgId, id, tenant.requestId);
  return loadScimUser(deps, tenant, id);
}

/** `PUT /Users/:id`: every kept attribute as sent; without `active`, the status stays. */
export async function replaceScimUser(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  id: string,
  input: UserInput,
  ifMatch: string | undefined,
): Promise<User> {
  const user = await loadScimUser(deps, tenant, id);
  checkIfMatch(user, ifMatch);
  return applyAttributes(deps, tenant, user, {
    userName: input.userName,
    externalId: input.externalId,
    givenName: input.givenName,
    familyName: input.familyName,
    active: input.active ?? user.status === 'active',
  });
}

/** `PATCH /Users/:id`: the normalised operations, applied all or nothing. */
export async function patchScimUser(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<User> {
  const user = await loadScimUser(deps, tenant, id);
  checkIfMatch(user, ifMatch);
  const desired = applyPatch(attributesOf(user), normalisePatch(body, id));
  return applyAttributes(deps, tenant, user, desired);
}

/** `DELETE /Users/:id`: see {@link deleteOverScim}. */
export async function deleteScimUser(
  deps: ScimLifecycleDeps,
  tenant: Tenant,
  id: string,
  ifMatch: string | undefined,
): Promise<void> {
  const user = await loadScimUser(deps, tenant, id);
  checkIfMatch(user, ifMatch);
  await deleteOverScim(deps, user, tenant.requestId);
}
