import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { Deactivation, RunStatus } from '../models/deactivation.model';
import { keysetPage, type KeysetPage, type PageKey } from '../store/keyset-page';

/** A page request of an organization's runs. */
export interface ListRunsQuery {
  orgId: string;
  status?: RunStatus | undefined;
  userId?: string | undefined;
  limit: number;
  /** The last run of the previous page: its `createdAt` and id. */
  after: PageKey | null;
}

/** An organization's runs, newest first, a page at a time on the (orgId, createdAt) order. */
export function listRuns(models: Models, query: ListRunsQuery): Promise<KeysetPage<Deactivation>> {
  return keysetPage(models.deactivations, {
    filter: {
      orgId: query.orgId,
      ...(query.status ? { status: query.status } : {}),
      ...(query.userId ? { userId: query.userId } : {}),
    },
    key: 'createdAt',
    order: 'desc',
    limit: query.limit,
    after: query.after,
  });
}

/**
 * One run of the organization. A run of another organization is unknown here, like one that
 * does not exist.
 *
 * @throws AppError `not_found`
 */
export async function getRun(models: Models, orgId: string, runId: string): Promise<Deactivation> {
  const run = await models.deactivations.findOne({ _id: runId, orgId }).lean();
  if (!run) throw new AppError('not_found', `Unknown deactivation ${runId}`);
  return run;
}
