import { findActiveApiKey } from '../auth/api-key-repository';
import { AppError } from '../errors/app-error';
import type { ApiKey, ApiKeyScope } from '../models/api-key.model';
import type { Models } from '../models/create-models';

const bearerPattern = /^Bearer\s+(\S+)$/i;

/** Resolves the `Authorization: Bearer` key, or throws 401 `unauthorized`. */
export async function authenticate(models: Models, header: string | undefined): Promise<ApiKey> {
  const presented = header === undefined ? null : (bearerPattern.exec(header)?.[1] ?? null);
  if (presented === null) {
    throw new AppError('unauthorized', 'Send an API key as "Authorization: Bearer <key>"');
  }
  const key = await findActiveApiKey(models, presented);
  if (!key) throw new AppError('unauthorized', 'The API key is not valid');
  return key;
}

/** True when `key` carries `scope` (or `*`). */
export function hasScope(key: Pick<ApiKey, 'scopes'>, scope: ApiKeyScope): boolean {
  return key.scopes.includes('*') || key.scopes.includes(scope);
}

/**
 * Throws 403 `forbidden` unless the key has the scope and is bound to the organization. Checked
 * before anything is looked up, so a refusal never reveals whether a resource exists.
 */
export function authorize(
  key: Pick<ApiKey, 'scopes' | 'orgIds'>,
  scope: ApiKeyScope,
  orgId: string | undefined,
): void {
  if (!hasScope(key, scope)) {
    throw new AppError('forbidden', `This API key lacks the "${scope}" scope`);
  }
  if (orgId !== undefined && !key.orgIds.includes('*') && !key.orgIds.includes(orgId)) {
    throw new AppError('forbidden', 'This API key is not allowed for this organization');
  }
}
