import { Schema } from 'mongoose';
import { webhookEventTypes, type WebhookEventType } from '../webhooks/webhook-event-types';

/**
 * A `webhookEvents` document: one fact, recorded once. Its `_id` derives from the fact
 * (`deactivation.completed:<runId>`), so recording the same fact again inserts nothing, and it
 * is the `webhook-id` receivers dedupe on. Ids, statuses and counts only: no personal data.
 */
export interface WebhookEvent {
  _id: string;
  orgId: string;
  type: WebhookEventType;
  /** When the fact happened; the body's `timestamp`. */
  timestamp: Date;
  data: Record<string, unknown>;
  /** When its deliveries were created; `null` until then (the reconciler finishes it). */
  fannedOutAt: Date | null;
}

export const webhookEventSchema = new Schema<WebhookEvent>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    type: { type: String, enum: webhookEventTypes, required: true },
    timestamp: { type: Date, required: true },
    data: { type: Schema.Types.Mixed, default: {} },
    fannedOutAt: { type: Date, default: null },
  },
  { collection: 'webhookEvents', versionKey: false, minimize: false },
);

webhookEventSchema.index({ fannedOutAt: 1, timestamp: 1 });
