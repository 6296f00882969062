import type { FlowProducer, JobNode } from 'bullmq';
import type { Models } from '../../models/create-models';
import { enqueueErasure, erasureJobId } from '../../queues/erasure-queue';
import { queueNames } from '../../queues/queue-names';
import { usersToErase } from './users-to-erase';

/**
 * Re-queues the erasure of users marked `deleted` whose personal data is still there
 * (`deletedAt` unset) and who have no erasure job at all: after a failed enqueue or a Redis
 * wipe. A failed job is left for operators, who see it in the dashboard.
 */
export async function reconcileErasures(
  deps: { models: Models; flows: FlowProducer },
  batch = 500,
): Promise<{ requeued: number }> {
  let requeued = 0;
  const filter = { status: 'deleted' as const, deletedAt: { $exists: false } };
  for await (const user of usersToErase(deps.models, filter, batch)) {
    const existing = (await deps.flows.getFlow({
      id: erasureJobId(user._id),
      queueName: queueNames.erasures,
    })) as JobNode | undefined;
    if (existing) continue;
    await enqueueErasure(deps.flows, { orgId: user.orgId, userId: user._id });
    requeued += 1;
  }
  return { requeued };
}
