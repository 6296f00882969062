import type { BulkDeactivation } from '../models/bulk-deactivation.model';
import type { Models } from '../models/create-models';

/** A bulk deactivation as the API returns it. */
export interface BulkView {
  id: string;
  orgId: string;
  actorId: string;
  source: BulkDeactivation['source'];
  status: BulkDeactivation['status'];
  dryRun: boolean;
  filter: BulkDeactivation['filter'];
  matched: number;
  processed: number;
  enqueued: number;
  planned: number;
  completedRuns: number;
  failedRuns: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Why a `failed` bulk failed (`code: message`); null otherwise. */
  error: string | null;
}

/** Reads a bulk with its runs' progress so far. */
export async function loadBulkView(models: Models, bulk: BulkDeactivation): Promise<BulkView> {
  const [completedRuns, failedRuns] = await Promise.all([
    models.deactivations.countDocuments({ bulkId: bulk._id, status: 'completed' }),
    models.deactivations.countDocuments({ bulkId: bulk._id, status: 'failed' }),
  ]);
  return {
    id: bulk._id,
    orgId: bulk.orgId,
    actorId: bulk.actorId,
    source: bulk.source,
    status: bulk.status,
    dryRun: bulk.dryRun,
    filter: bulk.filter,
    matched: bulk.matched,
    processed: bulk.processed,
    enqueued: bulk.enqueued,
    planned: bulk.planned,
    completedRuns,
    failedRuns,
    skipped: bulk.skipped,
    skippedByReason: bulk.skippedByReason,
    createdAt: bulk.createdAt,
    startedAt: bulk.startedAt,
    finishedAt: bulk.finishedAt,
    error: bulk.error,
  };
}
