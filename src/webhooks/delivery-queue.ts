import { createHash } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { WebhookDelivery } from '../models/webhook-delivery.model';
import type { DeliveryJobData } from '../queues/job-kinds';
import { jobOptions } from '../queues/job-options';
import { queueNames } from '../queues/queue-names';

/** The job name; its first word is the kind the worker dispatches on. */
export const deliveryJobName = 'deliver';

/**
 * The delivery id of `eventId` to `endpointId`: deterministic, so the fan-out writes it once,
 * and free of `:` so that it is also the BullMQ job id.
 */
export function deliveryId(eventId: string, endpointId: string): string {
  const digest = createHash('sha256').update(`${eventId}\n${endpointId}`).digest('hex');
  return `dlv_${digest.slice(0, 32)}`;
}

/** The job options of a delivery: one first attempt, then one per scheduled retry. */
export function deliveryJobOptions(retries: number, jobId: string): JobsOptions {
  return { ...jobOptions[queueNames.webhooks], attempts: retries + 1, jobId };
}

/** Queues `deliveries` in one round trip; a delivery already queued is not added twice. */
export async function enqueueDeliveries(
  queue: Queue,
  deliveries: readonly Pick<WebhookDelivery, '_id' | 'orgId' | 'endpointId' | 'eventId'>[],
  retries: number,
): Promise<void> {
  if (deliveries.length === 0) return;
  await queue.addBulk(
    deliveries.map((delivery) => ({
      name: deliveryJobName,
      data: {
        deliveryId: delivery._id,
        orgId: delivery.orgId,
        endpointId: delivery.endpointId,
        eventId: delivery.eventId,
      } satisfies DeliveryJobData,
      opts: deliveryJobOptions(retries, delivery._id),
    })),
  );
}
