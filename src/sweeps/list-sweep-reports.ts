import type { Models } from '../models/create-models';
import type { SweepReport } from '../models/sweep-report.model';
import { keysetPage, type KeysetPage, type PageKey } from '../store/keyset-page';

/** A page request of an organization's sweep reports. */
export interface ListSweepReportsQuery {
  orgId: string;
  limit: number;
  /** The last report of the previous page: its `startedAt` and id. */
  after: PageKey | null;
}

/** An organization's sweep reports, newest first, a page at a time. */
export function listSweepReports(
  models: Models,
  query: ListSweepReportsQuery,
): Promise<KeysetPage<SweepReport>> {
  return keysetPage(models.sweeps, {
    filter: { orgId: query.orgId },
    key: 'startedAt',
    order: 'desc',
    limit: query.limit,
    after: query.after,
  });
}
