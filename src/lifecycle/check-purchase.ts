import { hashEmail, normalizeEmail } from '../domain/email';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import { applyReactivation, purchaseActorId } from './reactivate-user';

/** Why a purchase is allowed or refused. */
export const purchaseReasons = [
  /** The email is on the organization's blocklist: refused. */
  'blocklisted',
  /** An inactive user who allows it was reactivated by this check. */
  'reactivated',
  /** An inactive user who allows it, but their deactivation is still running: not reactivated. */
  'deactivation_in_progress',
  /** Nothing stands in the way. */
  'not_blocklisted',
] as const;
export type PurchaseReason = (typeof purchaseReasons)[number];

/** The answer of the purchase check. */
export interface PurchaseCheckResult {
  allowed: boolean;
  reactivated: boolean;
  reason: PurchaseReason;
}

/**
 * `POST /v1/orgs/:orgId/purchases/check`: is a purchase from `email` allowed, and does it bring
 * back an inactive user who allowed reactivation on purchase?
 *
 * Cheap by construction: the blocklist lookup uses the unique (orgId, emailHash) index and the
 * user lookup the (orgId, email) index, both issued at once; a run lookup by (orgId, userId)
 * follows only when there is a user to reactivate. The email is never logged or stored here.
 * Racing checks for one email reactivate once: see {@link applyReactivation}.
 */
export async function checkPurchase(
  models: Models,
  input: { orgId: string; email: string },
  now: Date,
): Promise<PurchaseCheckResult> {
  const { orgId } = input;
  const email = normalizeEmail(input.email);
  const [orgExists, blocked, user] = await Promise.all([
    models.organizations.exists({ _id: orgId }),
    models.blocklist.exists({ orgId, emailHash: hashEmail(email) }),
    models.users
      .findOne({ orgId, email, status: 'inactive', allowReactivationOnPurchase: true })
      .lean(),
  ]);
  if (!orgExists) throw new AppError('not_found', `Unknown organization ${orgId}`);
  if (blocked) return { allowed: false, reactivated: false, reason: 'blocklisted' };
  if (!user) return { allowed: true, reactivated: false, reason: 'not_blocklisted' };

  const running = await models.deactivations.exists({
    orgId,
    userId: user._id,
    status: { $in: ['pending', 'running'] },
  });
  if (running) {
    // As through the API: reactivating mid-run would leave the remaining steps undone.
    return { allowed: true, reactivated: false, reason: 'deactivation_in_progress' };
  }
  const attempt = await applyReactivation(
    models,
    user,
    { actorId: purchaseActorId, source: 'purchase' },
    now,
  );
  return attempt.outcome === 'reactivated'
    ? { allowed: true, reactivated: true, reason: 'reactivated' }
    : { allowed: true, reactivated: false, reason: 'not_blocklisted' };
}
