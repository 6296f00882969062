import { Schema } from 'mongoose';

export const subscriptionStatuses = ['active', 'trialing', 'past_due', 'canceled'] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];
/** Statuses that still bill or grant access: what deactivation cancels. */
export const cancellableSubscriptionStatuses: SubscriptionStatus[] = [
  'active',
  'trialing',
  'past_due',
];

/** A `subscriptions` document. */
export interface Subscription {
  _id: string;
  orgId: string;
  userId: string;
  plan: string;
  status: SubscriptionStatus;
  canceledAt?: Date | null;
  cancelReason?: string | null;
  cancelDeactivationId?: string | null;
}

export const subscriptionSchema = new Schema<Subscription>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    userId: { type: String, required: true },
    plan: { type: String, required: true },
    status: { type: String, enum: subscriptionStatuses, required: true },
    canceledAt: { type: Date, default: null },
    cancelReason: { type: String, default: null },
    // Which run cancelled it: lets a re-run report the same count without cancelling again.
    cancelDeactivationId: { type: String },
  },
  { collection: 'subscriptions', versionKey: false },
);

subscriptionSchema.index({ userId: 1, status: 1 });
