/** The events an endpoint can subscribe to (docs/webhooks.md). */
export const webhookEventTypes = [
  'deactivation.completed',
  'deactivation.failed',
  'user.reactivated',
  'user.deleted',
  'bulk_deactivation.completed',
  'sweep.held',
  'sweep.completed',
] as const;

/** One of {@link webhookEventTypes}. */
export type WebhookEventType = (typeof webhookEventTypes)[number];
