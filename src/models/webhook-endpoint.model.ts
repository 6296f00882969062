import { Schema } from 'mongoose';
import { webhookEventTypes, type WebhookEventType } from '../webhooks/webhook-event-types';

/** One signing secret of an endpoint, encrypted (src/webhooks/secret-box.ts). */
export interface WebhookSecret {
  /** `v1.<iv>.<tag>.<ciphertext>` under `SECRETS_KEY`, bound to the endpoint id. */
  sealed: string;
  createdAt: Date;
  /** `null` for the current secret; a rotated-out one signs until then. */
  expiresAt: Date | null;
}

/** A `webhookEndpoints` document: where an organization's events are delivered. */
export interface WebhookEndpoint {
  _id: string;
  orgId: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  enabled: boolean;
  /** Newest first; never returned by the API after creation or rotation. */
  secrets: WebhookSecret[];
  /** The first failed attempt since the last delivered one; five days of it disable. */
  failingSince: Date | null;
  disabledAt: Date | null;
  /** `gone` (the receiver answered 410), `failing` (five days), `api` (an admin). */
  disabledReason: 'gone' | 'failing' | 'api' | null;
  createdAt: Date;
  updatedAt: Date;
}

export const webhookEndpointSchema = new Schema<WebhookEndpoint>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    url: { type: String, required: true },
    events: { type: [{ type: String, enum: webhookEventTypes }], required: true },
    description: { type: String, default: null },
    enabled: { type: Boolean, required: true },
    secrets: {
      type: [
        {
          _id: false,
          sealed: { type: String, required: true },
          createdAt: { type: Date, required: true },
          expiresAt: { type: Date, default: null },
        },
      ],
      required: true,
    },
    failingSince: { type: Date, default: null },
    disabledAt: { type: Date, default: null },
    disabledReason: { type: String, enum: ['gone', 'failing', 'api', null], default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'webhookEndpoints', versionKey: false, minimize: false },
);

webhookEndpointSchema.index({ orgId: 1, createdAt: 1, _id: 1 });
