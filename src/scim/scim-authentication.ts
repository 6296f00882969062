import type { RequestHandler } from 'express';
import type { AuthThrottle } from '../api/auth-throttle';
import { authenticate, authorize } from '../api/authenticate';
import { requireOrganization } from '../api/require-organization';
import type { Models } from '../models/create-models';

/**
 * Guards an organization's SCIM tenant: 429 while the address has failed too often, 401
 * without a valid key, 403 without the `scim` scope (or `*`) or for another organization —
 * checked before anything is looked up — then 404 for an unknown organization.
 */
export function scimAuthentication(models: Models, throttle: AuthThrottle): RequestHandler {
  return async (req, _res, next) => {
    const { orgId } = req.params as { orgId?: string };
    const key = await throttle.guard(req, () => authenticate(models, req.headers.authorization));
    authorize(key, 'scim', orgId);
    if (orgId !== undefined) await requireOrganization(models, orgId);
    next();
  };
}
