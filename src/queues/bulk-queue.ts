import type { JobsOptions, Queue } from 'bullmq';

/** A bulk job's data: ids only. */
export interface BulkJobData {
  bulkId: string;
  orgId: string;
}

const bulkJobOptions: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { age: 7 * 24 * 60 * 60, count: 1_000 },
  removeOnFail: { age: 30 * 24 * 60 * 60, count: 10_000 },
};

/** Queues a bulk deactivation's job; its id derives from the bulk id, so it is queued once. */
export async function enqueueBulk(
  queue: Queue,
  bulk: { _id: string; orgId: string },
): Promise<void> {
  await queue.add(
    `bulk ${bulk._id}`,
    { bulkId: bulk._id, orgId: bulk.orgId } satisfies BulkJobData,
    {
      ...bulkJobOptions,
      jobId: `bulk-${bulk._id}`,
    },
  );
}
