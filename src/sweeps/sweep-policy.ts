import type { Queue } from 'bullmq';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';
import { syncSweepScheduler } from './sweep-scheduler';

/**
 * Stores an organization's sweep policy and makes its job scheduler match it (created or moved
 * while enabled, removed when disabled). MongoDB is written first: it is what schedulers are
 * rebuilt from at start-up.
 */
export async function putSweepPolicy(
  deps: { models: Models; sweepsQueue: Queue },
  orgId: string,
  policy: SweepPolicy,
): Promise<SweepPolicy> {
  const updated = await deps.models.organizations.updateOne(
    { _id: orgId },
    { $set: { sweepPolicy: policy } },
  );
  if (updated.matchedCount === 0) throw new AppError('not_found', `Unknown organization ${orgId}`);
  await syncSweepScheduler(deps.sweepsQueue, orgId, policy);
  return policy;
}
