import { createHash } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { WebhookDelivery } from '../models/webhook-delivery.model';

/** The job data of a delivery: ids only. */
export interface DeliveryJobData {
  deliveryId: string;
  orgId: string;
  endpointId: string;
  eventId: string;
}

/** The job name; its first word is the kind the worker dispatches on. */
export const deliveryJobName = 'deliver';

/** The name of the custom backoff strategy (src/webhooks/webhook-backoff.ts). */
export const webhookBackoffType = 'webhook';

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
  return {
    jobId,
    attempts: retries + 1,
    backoff: { type: webhookBackoffType },
    // Delivered jobs leave Redis (the delivery log is in MongoDB); failed ones stay a week for
    // the dashboard's retry.
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
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
