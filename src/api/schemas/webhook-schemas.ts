import { z } from 'zod';
import { webhookDeliveryStatuses } from '../../models/webhook-delivery.model';
import { webhookEventTypes } from '../../webhooks/webhook-event-types';
import { idSchema, limitSchema } from './common-schemas';

export const webhookParamsSchema = z.strictObject({ orgId: idSchema, id: idSchema });

export const deliveryParamsSchema = z.strictObject({
  orgId: idSchema,
  id: idSchema,
  deliveryId: idSchema,
});

const urlSchema = z
  .string()
  .max(2_000)
  .meta({ description: 'https, public addresses only (see WEBHOOK_ALLOWED_ADDRESSES)' });

const eventsSchema = z.array(z.enum(webhookEventTypes)).min(1).max(webhookEventTypes.length);

export const createWebhookSchema = z.strictObject({
  url: urlSchema,
  events: eventsSchema,
  description: z.string().max(500).optional(),
});

export const updateWebhookSchema = z
  .strictObject({
    url: urlSchema.optional(),
    events: eventsSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, {
    message: 'name at least one of url, events, enabled',
  });

export const webhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(webhookEventTypes)),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabledReason: z.enum(['gone', 'failing', 'api']).nullable(),
    disabledAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ title: 'WebhookEndpoint' });

export const webhookWithSecretSchema = webhookEndpointSchema
  .extend({
    secret: z.string().meta({ description: 'whsec_…: shown once, store it now' }),
  })
  .meta({ title: 'WebhookEndpointWithSecret' });

export const rotatedSecretSchema = z.object({
  id: z.string(),
  secret: z.string().meta({ description: 'The new whsec_… secret, shown once' }),
  previousSecretExpiresAt: z.string(),
});

export const deliveryListQuerySchema = z.strictObject({
  limit: limitSchema,
  cursor: z.string().max(300).optional(),
  status: z.enum(webhookDeliveryStatuses).optional(),
});

export const webhookDeliverySchema = z
  .object({
    id: z.string(),
    endpointId: z.string(),
    eventId: z.string().meta({ description: 'Also the webhook-id header of every attempt' }),
    eventType: z.enum(webhookEventTypes),
    status: z.enum(webhookDeliveryStatuses),
    attempts: z.number(),
    lastStatusCode: z.number().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .meta({ title: 'WebhookDelivery' });
