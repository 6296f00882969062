import type { Models } from '../models/create-models';
import type { WebhookEndpoint } from '../models/webhook-endpoint.model';

/** The actor of what the delivery worker decides on its own. */
export const webhooksActorId = 'system:webhooks';

/** How long an endpoint may keep failing before it is disabled (docs/webhooks.md). */
export const failingLimitMs = 5 * 24 * 60 * 60 * 1000;

/**
 * Disables an endpoint because its receiver answered 410 (`gone`) or kept failing for five days
 * (`failing`), and leaves a `webhook.endpoint_disabled` audit event: once, since only the call
 * that switches it off writes one. Returns whether this call disabled it.
 */
export async function disableEndpoint(
  models: Models,
  endpoint: Pick<WebhookEndpoint, '_id' | 'orgId'>,
  reason: 'gone' | 'failing',
  evidence: { deliveryId: string; statusCode: number | null },
  now: Date = new Date(),
): Promise<boolean> {
  const switched = await models.webhookEndpoints.updateOne(
    { _id: endpoint._id, enabled: true },
    { $set: { enabled: false, disabledAt: now, disabledReason: reason, updatedAt: now } },
  );
  if (switched.modifiedCount !== 1) return false;
  await models.auditEvents.updateOne(
    { _id: `webhook.endpoint_disabled-${endpoint._id}-${now.getTime()}` },
    {
      $setOnInsert: {
        orgId: endpoint.orgId,
        type: 'webhook.endpoint_disabled',
        actorId: webhooksActorId,
        subjectId: endpoint._id,
        at: now,
        data: { endpointId: endpoint._id, reason, ...evidence },
      },
    },
    { upsert: true },
  );
  return true;
}
