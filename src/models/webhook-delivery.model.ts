import { Schema } from 'mongoose';
import type { WebhookEventType } from '../webhooks/webhook-event-types';

export const webhookDeliveryStatuses = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/**
 * A `webhookDeliveries` document: one event to one endpoint. Its `_id` derives from both
 * (src/webhooks/delivery-ids.ts) and is also its BullMQ job id, so it is created and queued
 * once however many times it is attempted.
 */
export interface WebhookDelivery {
  _id: string;
  orgId: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  /** What went wrong last, as a short code (`timeout`, `http_500`, `address_not_allowed`…). */
  lastError: string | null;
  nextAttemptAt: Date | null;
  /** When the relay queued it; `null` until then. */
  queuedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}

export const webhookDeliverySchema = new Schema<WebhookDelivery>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    endpointId: { type: String, required: true },
    eventId: { type: String, required: true },
    eventType: { type: String, required: true },
    status: { type: String, enum: webhookDeliveryStatuses, required: true },
    attempts: { type: Number, required: true },
    lastStatusCode: { type: Number, default: null },
    lastError: { type: String, default: null },
    nextAttemptAt: { type: Date, default: null },
    queuedAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    deliveredAt: { type: Date, default: null },
  },
  { collection: 'webhookDeliveries', versionKey: false, minimize: false },
);

webhookDeliverySchema.index({ endpointId: 1, createdAt: -1, _id: -1 });
webhookDeliverySchema.index({ queuedAt: 1 });
webhookDeliverySchema.index({ status: 1, queuedAt: 1 });
