import type { Queue } from 'bullmq';
import type { Logger } from '../logging/logger';
import type { Models } from '../models/create-models';
import { isLiveJobState } from '../queues/live-job-states';
import { enqueueDeliveries } from './delivery-queue';
import { fanOutEvent } from './record-event';

/** What the delivery reconciler needs. */
export interface ReconcileDeliveriesDeps {
  models: Models;
  queue: Queue;
  logger: Logger;
  retries: number;
}

/**
 * Finishes what a crash or a Redis loss interrupted, like the runs' reconciler: events recorded
 * but not fanned out (the recording call stopped half-way) get their deliveries; deliveries
 * pending in MongoDB whose job is gone from Redis are queued again. Job ids are delivery ids,
 * so one that is in fact still queued is not added twice. A receiver may then see a delivery
 * twice, under the same `webhook-id`; none is lost. Records younger than `graceMs` are left to
 * the code that is still writing them.
 */
export async function reconcileDeliveries(
  deps: ReconcileDeliveriesDeps,
  options: { graceMs: number; now?: Date; batch?: number },
): Promise<{ fannedOut: number; requeued: number }> {
  const { models, queue, logger } = deps;
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.graceMs);
  const batch = options.batch ?? 1_000;
  let fannedOut = 0;
  const stranded = await models.webhookEvents
    .find({ fannedOutAt: null, timestamp: { $lt: cutoff } }, { _id: 1, orgId: 1, type: 1 })
    .limit(batch)
    .lean();
  for (const event of stranded) {
    await fanOutEvent(models, event);
    fannedOut += 1;
  }
  let requeued = 0;
  const pending = models.webhookDeliveries
    .find({ status: 'pending', queuedAt: { $lt: cutoff } })
    .sort({ queuedAt: 1, _id: 1 })
    .limit(batch)
    .lean()
    .cursor();
  for await (const delivery of pending) {
    const job = await queue.getJob(delivery._id);
    if (job && isLiveJobState(await job.getState())) continue;
    if (job) await job.remove();
    await enqueueDeliveries(queue, [delivery], deps.retries);
    requeued += 1;
  }
  if (requeued > 0 || fannedOut > 0) {
    logger.info({ requeued, fannedOut }, 're-queued webhook deliveries that had no live job');
  }
  return { fannedOut, requeued };
}
