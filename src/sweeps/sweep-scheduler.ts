import type { Queue } from 'bullmq';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';
import type { SweepJobData } from '../queues/job-kinds';
import { jobOptions } from '../queues/job-options';
import { queueNames } from '../queues/queue-names';
import { toAppError } from '../errors/to-app-error';
import type { Logger } from '../logging/logger';
import { sweepScheduleProblems } from './sweep-cron';

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

const textOf = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Why start-up left an organization's sweep unscheduled (a metric label). */
export type SweepSkipReason = 'invalid_schedule' | 'scheduler_refused';

/** Where restoring reports the policies it had to skip. */
export interface RestoreObserver {
  logger: Logger;
  onSkipped: (reason: SweepSkipReason) => void;
}

/**
 * Re-creates every enabled policy's scheduler from MongoDB, paging through organizations: the
 * schedule survives a Redis that lost its data. Other systems write the same database, so a
 * stored policy may be one the API would refuse (a cron with seconds or `H`, a timezone
 * nobody knows) or one BullMQ rejects: that organization is skipped, logged at error level and
 * counted, and every other organization is still scheduled. With `onlyMissing`, one that Redis
 * holds with the policy's cron and timezone is left as it is (the workers' periodic check).
 * Returns how many were written.
 */
export async function restoreSweepSchedulers(
  models: Models,
  queue: Queue,
  observer: RestoreObserver,
  options: { onlyMissing?: boolean } = {},
): Promise<number> {
  let restored = 0;
  const cursor = models.organizations
    .find({ 'sweepPolicy.enabled': true }, { _id: 1, sweepPolicy: 1 })
    .sort({ _id: 1 })
    .lean()
    .cursor({ batchSize: 500 });
  for await (const org of cursor) {
    const policy = org.sweepPolicy;
    // Read as unknown: nothing guarantees the types of what another system wrote.
    const stored = (policy ?? {}) as { cron?: unknown; timezone?: unknown };
    const problems = policy
      ? sweepScheduleProblems({ cron: textOf(stored.cron), timezone: textOf(stored.timezone) })
      : [];
    if (problems.length > 0) {
      observer.logger.error(
        { orgId: org._id, problems },
        'stored sweep policy is invalid: its sweep is not scheduled',
      );
      observer.onSkipped('invalid_schedule');
      continue;
    }
    if (options.onlyMissing === true && policy) {
      const existing = await queue.getJobScheduler(sweepSchedulerId(org._id));
      if (existing?.pattern === policy.cron && existing.tz === policy.timezone) continue;
    }
    try {
      await syncSweepScheduler(queue, org._id, policy);
    } catch (error) {
      // Only a refusal of this policy is skipped; Redis being away fails the restore as before.
      if (toAppError(error).code === 'service_unavailable') throw error;
      observer.logger.error(
        { orgId: org._id, err: error },
        'BullMQ refused the stored sweep policy: its sweep is not scheduled',
      );
      observer.onSkipped('scheduler_refused');
      continue;
    }
    restored += 1;
  }
  return restored;
}
