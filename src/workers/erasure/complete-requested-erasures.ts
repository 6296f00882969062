import type { FlowProducer } from 'bullmq';
import type { Models } from '../../models/create-models';
import { eraseWhenDeactivated } from '../../scim/scim-lifecycle';
import { usersToErase } from './users-to-erase';

/**
 * Erases the users deleted over SCIM whose deactivation has completed since (`erasurePending`
 * and still `inactive`): the deletion SCIM's `DELETE` could not do at once because the run was
 * still going. Runs with the reconciler; a user whose run failed stays pending until an
 * operator's retry completes it.
 */
export async function completeRequestedErasures(
  deps: { models: Models; flows: FlowProducer },
  batch = 500,
): Promise<{ erased: number }> {
  let erased = 0;
  const users = usersToErase(deps.models, { erasurePending: true, status: 'inactive' }, batch);
  for await (const user of users) {
    if (await eraseWhenDeactivated(deps, user.orgId, user._id)) erased += 1;
  }
  return { erased };
}
