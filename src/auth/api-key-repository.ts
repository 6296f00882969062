import { ulid } from 'ulid';
import { AppError } from '../errors/app-error';
import type { ApiKey, ApiKeyScope } from '../models/api-key.model';
import { apiKeyScopes } from '../models/api-key.model';
import type { Models } from '../models/create-models';
import { cachedApiKey, forgetApiKey, rememberApiKey } from './api-key-cache';
import { displayPrefix, generateApiKey, hashApiKey, hashesMatch } from './api-key-secret';

/** What a caller asks for when creating a key. */
export interface NewApiKey {
  name: string;
  scopes: string[];
  orgIds: string[];
  /** The user the key acts as (a bound key); absent or null for a service key. */
  actorId?: string | null;
}

function checkScopes(scopes: string[]): ApiKeyScope[] {
  const known = new Set<string>(apiKeyScopes);
  const unknown = scopes.filter((scope) => !known.has(scope));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new AppError(
      'validation_failed',
      `Unknown or missing scopes: ${unknown.join(', ') || '(none given)'}; use ${apiKeyScopes.join(', ')}`,
    );
  }
  return scopes as ApiKeyScope[];
}

/**
 * Checks that a bound key's actor is a user who can ever act through it: one that exists, is not
 * deleted, and belongs to one of the key's organizations (a typo would otherwise make a key that
 * is refused on every request). Whether they may act at all is checked per request, as for any
 * actor.
 */
async function checkActor(
  models: Pick<Models, 'users'>,
  actorId: string,
  orgIds: string[],
): Promise<void> {
  const user = await models.users.findOne({ _id: actorId }, { orgId: 1, status: 1 }).lean();
  if (!user || user.status === 'deleted') {
    throw new AppError('validation_failed', `--actor ${actorId} names no user`);
  }
  if (!orgIds.includes('*') && !orgIds.includes(user.orgId)) {
    throw new AppError(
      'validation_failed',
      `--actor ${actorId} belongs to organization ${user.orgId}, which is not in --orgs`,
    );
  }
}

/** Stores a new key (its hash only) and returns the plain key, which is never seen again. */
export async function createApiKey(
  models: Pick<Models, 'apiKeys' | 'users'>,
  input: NewApiKey,
): Promise<{ id: string; key: string; actorId: string | null }> {
  if (input.name.trim() === '') throw new AppError('validation_failed', 'A key needs a --name');
  if (input.orgIds.length === 0) {
    throw new AppError('validation_failed', 'A key needs --orgs: organization ids, or * for all');
  }
  const scopes = checkScopes(input.scopes);
  const actorId = input.actorId?.trim() ?? null;
  if (actorId === '') throw new AppError('validation_failed', '--actor needs a user id');
  if (actorId !== null) await checkActor(models, actorId, input.orgIds);
  const key = generateApiKey();
  const id = ulid();
  await models.apiKeys.create({
    _id: id,
    name: input.name.trim(),
    keyHash: hashApiKey(key),
    prefix: displayPrefix(key),
    scopes,
    orgIds: input.orgIds,
    actorId,
    createdAt: new Date(),
    revokedAt: null,
  });
  return { id, key, actorId };
}

/** Every key, newest first, without hashes. */
export async function listApiKeys(
  models: Pick<Models, 'apiKeys'>,
): Promise<Omit<ApiKey, 'keyHash'>[]> {
  const keys = await models.apiKeys.find({}).sort({ createdAt: -1, _id: -1 }).lean();
  return keys.map(({ keyHash: _hash, ...rest }) => rest);
}

/** Revokes a key; returns false when no such active key exists. */
export async function revokeApiKey(models: Pick<Models, 'apiKeys'>, id: string): Promise<boolean> {
  const result = await models.apiKeys.updateOne(
    { _id: id, revokedAt: null },
    { $set: { revokedAt: new Date() } },
  );
  // Also when nothing was modified: another process may have revoked it a moment ago.
  forgetApiKey(models.apiKeys, id);
  return result.modifiedCount === 1;
}

/**
 * The active key matching a presented plain key, or null. Where the API process turned on the
 * key cache (src/auth/api-key-cache.ts), a key found active is trusted for its TTL without a
 * store read: a revocation by another process takes effect within that bound.
 */
export async function findActiveApiKey(
  models: Pick<Models, 'apiKeys'>,
  presented: string,
  now: number = Date.now(),
): Promise<ApiKey | null> {
  const presentedHash = hashApiKey(presented);
  const cached = cachedApiKey(models.apiKeys, presentedHash, now);
  if (cached && hashesMatch(cached.keyHash, presentedHash)) return cached;
  const found = await models.apiKeys.findOne({ keyHash: presentedHash, revokedAt: null }).lean();
  // The lookup is by hash, so timing reveals nothing of the key; the comparison is a second,
  // constant-time guard should the lookup ever become a prefix or range match.
  if (!found || !hashesMatch(found.keyHash, presentedHash)) return null;
  rememberApiKey(models.apiKeys, found, now);
  return found;
}
