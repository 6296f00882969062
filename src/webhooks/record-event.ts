import type { Models } from '../models/create-models';
import type { WebhookDelivery } from '../models/webhook-delivery.model';
import type { WebhookEndpoint } from '../models/webhook-endpoint.model';
import type { WebhookEvent } from '../models/webhook-event.model';
import { insertIgnoringDuplicates } from '../store/duplicate-key';
import { deliveryId } from './delivery-queue';
import type { WebhookEventType } from './webhook-event-types';

/** A fact to tell subscribers about. */
export interface WebhookFact {
  type: WebhookEventType;
  orgId: string;
  /** What identifies the fact within its type (a run id, a sweep id…): the event id's tail. */
  factId: string;
  /** When it happened. */
  at: Date;
  /** Ids, statuses, counts and step results; never personal data. */
  data: Record<string, unknown>;
}

/** The event id of a fact: its type and its id, so one fact is one event. */
export const webhookEventId = (type: WebhookEventType, factId: string): string =>
  `${type}:${factId}`;

/** The organization's enabled endpoints subscribed to `type`. */
async function subscribedEndpoints(
  models: Models,
  event: Pick<WebhookEvent, 'orgId' | 'type'>,
): Promise<Pick<WebhookEndpoint, '_id'>[]> {
  // Per organization, by equality: FerretDB v1 pushes it down; the filter on types is done here.
  const endpoints = await models.webhookEndpoints
    .find({ orgId: event.orgId, enabled: true }, { _id: 1, events: 1 })
    .lean();
  return endpoints.filter((endpoint) => endpoint.events.includes(event.type));
}

/**
 * Creates one pending delivery per enabled endpoint of the organization subscribed to the
 * event's type (deterministic ids: a repeat creates nothing), then marks the event fanned out.
 * The relay (src/webhooks/relay-deliveries.ts) queues them. `endpoints` are the subscribed
 * endpoints when the caller has just read them.
 */
export async function fanOutEvent(
  models: Models,
  event: Pick<WebhookEvent, '_id' | 'orgId' | 'type'>,
  now: Date = new Date(),
  endpoints?: Pick<WebhookEndpoint, '_id'>[],
): Promise<number> {
  const subscribed = endpoints ?? (await subscribedEndpoints(models, event));
  const deliveries: WebhookDelivery[] = subscribed.map((endpoint) => ({
    _id: deliveryId(event._id, endpoint._id),
    orgId: event.orgId,
    endpointId: endpoint._id,
    eventId: event._id,
    eventType: event.type,
    status: 'pending',
    attempts: 0,
    lastStatusCode: null,
    lastError: null,
    nextAttemptAt: now,
    queuedAt: null,
    createdAt: now,
    updatedAt: now,
    deliveredAt: null,
  }));
  await insertIgnoringDuplicates(models.webhookDeliveries, deliveries);
  await models.webhookEvents.updateOne(
    { _id: event._id, fannedOutAt: null },
    { $set: { fannedOutAt: now } },
  );
  return deliveries.length;
}

/**
 * Records a fact for the webhooks, once: the event is inserted under its deterministic id (a
 * repeat inserts nothing), and its deliveries are created unless an earlier call finished that.
 * Called where the fact becomes true, after it is stored; safe to call again on every retry of
 * the code that made it true. The event is in MongoDB before anything is queued, so a Redis
 * loss costs no event (the reconciler re-queues).
 *
 * The subscribed endpoints are read first. With none (most organizations, most facts) nothing is
 * written: the event would be read only through its deliveries, and it has none. An endpoint
 * created meanwhile misses this event, as it would if created just after the fan-out; one created
 * before a repeat of the call (a retried job) gets it then.
 */
export async function recordEvent(models: Models, fact: WebhookFact): Promise<void> {
  const event: WebhookEvent = {
    _id: webhookEventId(fact.type, fact.factId),
    orgId: fact.orgId,
    type: fact.type,
    timestamp: fact.at,
    data: fact.data,
    fannedOutAt: null,
  };
  const endpoints = await subscribedEndpoints(models, event);
  // Nobody to tell: nothing is stored. An event is read only through its deliveries.
  if (endpoints.length === 0) return;
  const taken = await insertIgnoringDuplicates(models.webhookEvents, [event]);
  if (taken.size > 0) {
    const stored = await models.webhookEvents.findById(event._id, { fannedOutAt: 1 }).lean();
    if (stored?.fannedOutAt !== null) return;
  }
  await fanOutEvent(models, event, new Date(), endpoints);
}
