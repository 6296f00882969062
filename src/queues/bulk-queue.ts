import type { Queue } from 'bullmq';
import type { BulkJobData } from './job-kinds';
import { jobOptions } from './job-options';
import { queueNames } from './queue-names';

export type { BulkJobData };

/** The bulk job's id: one job per bulk deactivation. */
export function bulkJobId(bulkId: string): string {
  return `bulk-${bulkId}`;
}

/** Queues a bulk deactivation's job; its id derives from the bulk id, so it is queued once. */
export async function enqueueBulk(
  queue: Queue,
  bulk: { _id: string; orgId: string },
): Promise<void> {
  await queue.add(
    `bulk ${bulk._id}`,
    { bulkId: bulk._id, orgId: bulk.orgId } satisfies BulkJobData,
    { ...jobOptions[queueNames.bulk], jobId: bulkJobId(bulk._id) },
  );
}
