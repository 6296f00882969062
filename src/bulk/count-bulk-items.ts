import type { Models } from '../models/create-models';

/** A bulk's items counted by outcome. */
export interface BulkTotals {
  enqueued: number;
  planned: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  processed: number;
}

/** Counts a bulk's items by outcome: the report, derived from the items themselves. */
export async function countBulkItems(models: Models, bulkId: string): Promise<BulkTotals> {
  const rows = await models.bulkItems.aggregate<{
    _id: { status: string; reason: string | null };
    n: number;
  }>([
    { $match: { bulkId } },
    { $group: { _id: { status: '$status', reason: '$reason' }, n: { $sum: 1 } } },
  ]);
  const totals: BulkTotals = {
    enqueued: 0,
    planned: 0,
    skipped: 0,
    skippedByReason: {},
    processed: 0,
  };
  for (const row of rows) {
    if (row._id.status === 'pending') continue;
    totals.processed += row.n;
    if (row._id.status === 'enqueued') totals.enqueued += row.n;
    if (row._id.status === 'planned') totals.planned += row.n;
    if (row._id.status === 'skipped') {
      totals.skipped += row.n;
      const reason = row._id.reason ?? 'unknown';
      totals.skippedByReason[reason] = (totals.skippedByReason[reason] ?? 0) + row.n;
    }
  }
  return totals;
}
