import type { Queue } from 'bullmq';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';
import type { SweepJobData } from '../queues/job-kinds';
import { jobOptions } from '../queues/job-options';
import { queueNames } from '../queues/queue-names';

export type { SweepJobData };

/** The job scheduler id of an organization's sweep. */
export const sweepSchedulerId = (orgId: string): string => `sweep-${orgId}`;

/**
 * Makes Redis hold exactly what the policy says: a job scheduler firing on its cron in its
 * timezone while enabled, none otherwise.
 */
export async function syncSweepScheduler(
  queue: Queue,
  orgId: string,
  policy: SweepPolicy | null | undefined,
): Promise<void> {
  if (!policy?.enabled) {
    await queue.removeJobScheduler(sweepSchedulerId(orgId));
    return;
  }
  await queue.upsertJobScheduler(
    sweepSchedulerId(orgId),
    { pattern: policy.cron, tz: policy.timezone },
    {
      name: `sweep ${orgId}`,
      data: { orgId } satisfies SweepJobData,
      opts: jobOptions[queueNames.sweeps],
    },
  );
}

/**
 * Re-creates every enabled policy's scheduler from MongoDB, paging through organizations: the
 * schedule survives a Redis that lost its data.
 */
export async function restoreSweepSchedulers(models: Models, queue: Queue): Promise<number> {
  let restored = 0;
  const cursor = models.organizations
    .find({ 'sweepPolicy.enabled': true }, { _id: 1, sweepPolicy: 1 })
    .sort({ _id: 1 })
    .lean()
    .cursor({ batchSize: 500 });
  for await (const org of cursor) {
    await syncSweepScheduler(queue, org._id, org.sweepPolicy);
    restored += 1;
  }
  return restored;
}
