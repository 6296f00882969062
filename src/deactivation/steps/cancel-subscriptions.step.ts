import { cancellableSubscriptionStatuses } from '../../models/subscription.model';
import type { Step } from './step';

/** Cancels the user's active, trialing and past-due subscriptions. */
export const cancelSubscriptions: Step<{ canceled: number }> = async (input, { models }) => {
  if (input.apply) {
    const { modifiedCount } = await models.subscriptions.updateMany(
      {
        userId: input.userId,
        orgId: input.orgId,
        status: { $in: cancellableSubscriptionStatuses },
      },
      {
        $set: {
          status: 'canceled',
          canceledAt: input.now,
          cancelReason: 'user_deactivated',
          cancelDeactivationId: input.runId,
        },
      },
    );
    if (input.firstAttempt === true) return { canceled: modifiedCount };
  }
  return {
    canceled: await models.subscriptions.countDocuments({ cancelDeactivationId: input.runId }),
  };
};
