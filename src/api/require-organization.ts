import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';

/** Throws 404 `not_found` unless the organization exists. */
export async function requireOrganization(
  models: Pick<Models, 'organizations'>,
  orgId: string,
): Promise<void> {
  if (!(await models.organizations.exists({ _id: orgId }))) {
    throw new AppError('not_found', `Unknown organization ${orgId}`);
  }
}
