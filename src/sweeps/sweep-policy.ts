import type { Queue } from 'bullmq';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';
import { syncSweepScheduler } from './sweep-scheduler';

/** `maxPerRun` when a policy does not say: the size above which a sweep waits for an admin. */
export const defaultMaxPerRun = 500;
/** The roles a policy exempts when it does not say (and when an organization has no policy). */
export const defaultExemptRoles: readonly string[] = [];

/**
 * What in `next` lowers the sweep's safety compared with `current` (or the defaults when the
 * organization has none): a `maxPerRun` above both the default and the current value (an
 * admin-approved hold is then skipped for larger sweeps), or a role that `current` exempts and
 * `next` no longer does. Lowering `maxPerRun`, keeping it, and exempting more are not.
 */
export function safetyLoweredBy(
  current: Pick<SweepPolicy, 'maxPerRun' | 'exemptRoles'> | null | undefined,
  next: Pick<SweepPolicy, 'maxPerRun' | 'exemptRoles'>,
): ('maxPerRun' | 'exemptRoles')[] {
  const lowered: ('maxPerRun' | 'exemptRoles')[] = [];
  const allowedMax = Math.max(defaultMaxPerRun, current?.maxPerRun ?? defaultMaxPerRun);
  if (next.maxPerRun > allowedMax) lowered.push('maxPerRun');
  const exempt = current?.exemptRoles ?? defaultExemptRoles;
  if (exempt.some((role) => !next.exemptRoles.includes(role))) lowered.push('exemptRoles');
  return lowered;
}

/**
 * Stores an organization's sweep policy and makes its job scheduler match it (created or moved
 * while enabled, removed when disabled). MongoDB is written first: it is what schedulers are
 * rebuilt from at start-up. Unless `mayLowerSafety` (a key with the `admin` scope), a policy
 * that lowers the sweep's safety (see {@link safetyLoweredBy}) is refused with 403
 * `sweep_safety_requires_admin`: the hold that only an admin may release would otherwise be
 * removable by any `write` key.
 */
export async function putSweepPolicy(
  deps: { models: Models; sweepsQueue: Queue },
  orgId: string,
  policy: SweepPolicy,
  options: { mayLowerSafety: boolean },
): Promise<SweepPolicy> {
  const org = await deps.models.organizations.findById(orgId, { sweepPolicy: 1 }).lean();
  if (!org) throw new AppError('not_found', `Unknown organization ${orgId}`);
  if (!options.mayLowerSafety) {
    const lowered = safetyLoweredBy(org.sweepPolicy, policy);
    if (lowered.length > 0) {
      throw new AppError(
        'sweep_safety_requires_admin',
        `Raising maxPerRun above ${String(defaultMaxPerRun)} (or above the current value) and removing exempt roles need a key with the admin scope`,
        { details: { fields: lowered } },
      );
    }
  }
  const updated = await deps.models.organizations.updateOne(
    { _id: orgId },
    { $set: { sweepPolicy: policy } },
  );
  if (updated.matchedCount === 0) throw new AppError('not_found', `Unknown organization ${orgId}`);
  await syncSweepScheduler(deps.sweepsQueue, orgId, policy);
  return policy;
}
