import type { Queue } from 'bullmq';
import { ulid } from 'ulid';
import type { WebhookConfig } from '../config/config';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { WebhookDelivery } from '../models/webhook-delivery.model';
import type { WebhookEndpoint } from '../models/webhook-endpoint.model';
import type { DeliveryJobData } from '../queues/job-kinds';
import { createAddressPolicy } from './address-policy';
import { deliveryJobName, deliveryJobOptions } from './delivery-queue';
import type { Resolver } from './guarded-dispatcher';
import { newWebhookSecret, requireSecretsKey, sealSecret } from './secret-box';
import { validateWebhookUrl } from './validate-webhook-url';
import type { WebhookEventType } from './webhook-event-types';

/** How long a rotated-out secret keeps signing beside the new one. */
export const rotationOverlapMs = 24 * 60 * 60 * 1000;

/** What the endpoint operations need. */
export interface EndpointDeps {
  models: Models;
  config: WebhookConfig;
  /** Tests resolve names their own way; the system resolver otherwise. */
  resolve?: Resolver;
}

/** An endpoint as the API shows it: never its secrets. */
export interface EndpointView {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  enabled: boolean;
  disabledReason: WebhookEndpoint['disabledReason'];
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The API's view of an endpoint. */
export function toEndpointView(endpoint: WebhookEndpoint): EndpointView {
  return {
    id: endpoint._id,
    url: endpoint.url,
    events: endpoint.events,
    description: endpoint.description,
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    disabledAt: endpoint.disabledAt,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  };
}

/** The API's view of a delivery (the delivery log). */
export function toDeliveryView(delivery: WebhookDelivery): Record<string, unknown> {
  return {
    id: delivery._id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    nextAttemptAt: delivery.nextAttemptAt,
    createdAt: delivery.createdAt,
    deliveredAt: delivery.deliveredAt,
  };
}

/** Leaves an audit event of an admin's change to an endpoint (ids only). */
async function audit(
  models: Models,
  endpoint: Pick<WebhookEndpoint, '_id' | 'orgId'>,
  type: string,
  actorId: string,
  data: Record<string, unknown> = {},
): Promise<void> {
  await models.auditEvents.insertMany([
    {
      _id: `${type}-${ulid()}`,
      orgId: endpoint.orgId,
      type,
      actorId,
      subjectId: endpoint._id,
      at: new Date(),
      data: { endpointId: endpoint._id, ...data },
    },
  ]);
}

/** The endpoint, or 404 (also for another organization's). */
export async function findEndpoint(
  models: Models,
  orgId: string,
  id: string,
): Promise<WebhookEndpoint> {
  const endpoint = await models.webhookEndpoints.findOne({ _id: id, orgId }).lean();
  if (!endpoint) throw new AppError('not_found', `Unknown webhook endpoint ${id}`);
  return endpoint;
}

/**
 * Creates an endpoint with a new signing secret, which is returned here once and stored only
 * encrypted.
 *
 * @throws AppError `webhooks_not_configured` without `SECRETS_KEY`; `url_not_allowed`.
 */
export async function createEndpoint(
  deps: EndpointDeps,
  input: {
    orgId: string;
    url: string;
    events: WebhookEventType[];
    description?: string | undefined;
  },
  actorId: string,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const key = requireSecretsKey(deps.config.secretsKey);
  const policy = createAddressPolicy(deps.config.allowedAddresses);
  await validateWebhookUrl(input.url, policy, deps.resolve);
  const now = new Date();
  const id = `whe_${ulid()}`;
  const secret = newWebhookSecret();
  const endpoint: WebhookEndpoint = {
    _id: id,
    orgId: input.orgId,
    url: input.url,
    events: [...new Set(input.events)],
    description: input.description ?? null,
    enabled: true,
    secrets: [{ sealed: sealSecret(key, secret, id), createdAt: now, expiresAt: null }],
    failingSince: null,
    disabledAt: null,
    disabledReason: null,
    createdAt: now,
    updatedAt: now,
  };
  await deps.models.webhookEndpoints.insertMany([endpoint]);
  await audit(deps.models, endpoint, 'webhook.endpoint_created', actorId);
  return { endpoint, secret };
}

/**
 * Changes an endpoint's URL (checked again), events or `enabled`. Enabling one clears what
 * disabled it, so it starts again with five days of grace.
 */
export async function updateEndpoint(
  deps: EndpointDeps,
  target: { orgId: string; id: string },
  patch: {
    url?: string | undefined;
    events?: WebhookEventType[] | undefined;
    enabled?: boolean | undefined;
  },
  actorId: string,
): Promise<WebhookEndpoint> {
  const endpoint = await findEndpoint(deps.models, target.orgId, target.id);
  if (patch.url !== undefined) {
    await validateWebhookUrl(
      patch.url,
      createAddressPolicy(deps.config.allowedAddresses),
      deps.resolve,
    );
  }
  const now = new Date();
  const set: Partial<WebhookEndpoint> = { updatedAt: now };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.events !== undefined) set.events = [...new Set(patch.events)];
  if (patch.enabled === true && !endpoint.enabled) {
    Object.assign(set, {
      enabled: true,
      disabledAt: null,
      disabledReason: null,
      failingSince: null,
    });
  }
  if (patch.enabled === false && endpoint.enabled) {
    Object.assign(set, { enabled: false, disabledAt: now, disabledReason: 'api' });
  }
  await deps.models.webhookEndpoints.updateOne({ _id: endpoint._id }, { $set: set });
  await audit(deps.models, endpoint, 'webhook.endpoint_updated', actorId, {
    fields: Object.keys(patch).filter((field) => patch[field as keyof typeof patch] !== undefined),
  });
  return findEndpoint(deps.models, target.orgId, target.id);
}

/** Deletes an endpoint; its pending deliveries end as `failed` (`endpoint_deleted`). */
export async function deleteEndpoint(
  deps: EndpointDeps,
  target: { orgId: string; id: string },
  actorId: string,
): Promise<void> {
  const endpoint = await findEndpoint(deps.models, target.orgId, target.id);
  await deps.models.webhookEndpoints.deleteOne({ _id: endpoint._id });
  await audit(deps.models, endpoint, 'webhook.endpoint_deleted', actorId);
}

/**
 * Rotates the signing secret: the new one is returned once; the old one keeps signing beside it
 * for {@link rotationOverlapMs}, so receivers can switch without a gap. Secrets already expired
 * are dropped.
 */
export async function rotateSecret(
  deps: EndpointDeps,
  target: { orgId: string; id: string },
  actorId: string,
): Promise<{ endpoint: WebhookEndpoint; secret: string; previousSecretExpiresAt: Date }> {
  const key = requireSecretsKey(deps.config.secretsKey);
  const endpoint = await findEndpoint(deps.models, target.orgId, target.id);
  const now = new Date();
  const expiresAt = new Date(now.getTime() + rotationOverlapMs);
  const secret = newWebhookSecret();
  const kept = endpoint.secrets
    .filter((old) => old.expiresAt === null || old.expiresAt > now)
    .map((old) => ({ ...old, expiresAt: old.expiresAt ?? expiresAt }));
  const secrets = [
    { sealed: sealSecret(key, secret, endpoint._id), createdAt: now, expiresAt: null },
    ...kept,
  ];
  await deps.models.webhookEndpoints.updateOne(
    { _id: endpoint._id },
    { $set: { secrets, updatedAt: now } },
  );
  await audit(deps.models, endpoint, 'webhook.secret_rotated', actorId);
  return {
    endpoint: { ...endpoint, secrets, updatedAt: now },
    secret,
    previousSecretExpiresAt: expiresAt,
  };
}

/**
 * Attempts one delivery again now, whatever its status: a failed job is retried in place (one
 * more attempt), a finished or lost one is queued afresh for one attempt. Same `webhook-id`.
 *
 * @throws AppError `endpoint_disabled` when the endpoint is disabled (enable it first).
 */
export async function retryDelivery(
  deps: EndpointDeps & { queue: Queue },
  target: { orgId: string; endpointId: string; deliveryId: string },
  actorId: string,
): Promise<WebhookDelivery> {
  const endpoint = await findEndpoint(deps.models, target.orgId, target.endpointId);
  const delivery = await deps.models.webhookDeliveries
    .findOne({ _id: target.deliveryId, endpointId: endpoint._id })
    .lean();
  if (!delivery) throw new AppError('not_found', `Unknown delivery ${target.deliveryId}`);
  if (!endpoint.enabled) {
    throw new AppError('endpoint_disabled', 'The endpoint is disabled; enable it first', {
      details: { disabledReason: endpoint.disabledReason },
    });
  }
  const now = new Date();
  await deps.models.webhookDeliveries.updateOne(
    { _id: delivery._id },
    { $set: { status: 'pending', nextAttemptAt: now, queuedAt: now, updatedAt: now } },
  );
  const job = await deps.queue.getJob(delivery._id);
  const state = job ? await job.getState() : 'missing';
  if (job && state === 'failed') {
    await job.retry('failed');
  } else if (job && state === 'delayed') {
    await job.promote();
  } else if (!job || state === 'completed' || state === 'unknown') {
    if (job) await job.remove();
    await deps.queue.add(
      deliveryJobName,
      {
        deliveryId: delivery._id,
        orgId: delivery.orgId,
        endpointId: delivery.endpointId,
        eventId: delivery.eventId,
      } satisfies DeliveryJobData,
      deliveryJobOptions(0, delivery._id),
    );
  }
  await audit(deps.models, endpoint, 'webhook.delivery_retried', actorId, {
    deliveryId: delivery._id,
    eventId: delivery.eventId,
  });
  return { ...delivery, status: 'pending', nextAttemptAt: now, queuedAt: now, updatedAt: now };
}
