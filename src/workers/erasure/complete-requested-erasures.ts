import type { FlowProducer } from 'bullmq';
import type { Models } from '../../models/create-models';
import { eraseWhenDeactivated } from '../../scim/scim-lifecycle';

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
  const cursor = deps.models.users
    .find({ erasurePending: true, status: 'inactive' }, { _id: 1, orgId: 1 })
    .limit(batch)
    .lean()
    .cursor();
  for await (const user of cursor) {
    if (await eraseWhenDeactivated(deps, user.orgId, user._id)) erased += 1;
  }
  return { erased };
}
