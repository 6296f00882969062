import type { Queue } from 'bullmq';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';

/** A sweep job's data: the organization id only. */
export interface SweepJobData {
  orgId: string;
}

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
      opts: {
        attempts: 3,
        backoff: { type: 'exponential', delay: 5_000 },
        removeOnComplete: 100,
        removeOnFail: 1_000,
      },
    },
  );
}

/**
 * Re-creates every enabled policy's scheduler from MongoDB, paging through organizations: the
 * schedule survives a Redis that lost its data. With `onlyMissing`, one that Redis holds with
 * the policy's cron and timezone is left as it is (the workers' periodic check); returns how
 * many were written.
 */
export async function restoreSweepSchedulers(
  models: Models,
  queue: Queue,
  options: { onlyMissing?: boolean } = {},
): Promise<number> {
  let restored = 0;
  const cursor = models.organizations
    .find({ 'sweepPolicy.enabled': true }, { _id: 1, sweepPolicy: 1 })
    .sort({ _id: 1 })
    .lean()
    .cursor({ batchSize: 500 });
  for await (const org of cursor) {
    if (options.onlyMissing === true && org.sweepPolicy) {
      const existing = await queue.getJobScheduler(sweepSchedulerId(org._id));
      if (existing?.pattern === org.sweepPolicy.cron && existing.tz === org.sweepPolicy.timezone) {
        continue;
      }
    }
    await syncSweepScheduler(queue, org._id, org.sweepPolicy);
    restored += 1;
  }
  return restored;
}
