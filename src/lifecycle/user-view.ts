import type { User } from '../models/user.model';

/**
 * A user as the lifecycle endpoints return it: ids, kind, role, status and timestamps.
 *
 * Names and email are left out on purpose: the caller already knows whom it asked about, and a
 * response recorded for an `Idempotency-Key` replay would otherwise keep personal data outside
 * the `users` collection, beyond the reach of erasure.
 */
export interface UserView {
  id: string;
  orgId: string;
  kind: User['kind'];
  role: User['role'];
  status: User['status'];
  allowReactivationOnPurchase: boolean;
  lastLoginAt: Date | null;
  createdAt: Date;
  deactivatedAt: Date | null;
  deactivatedBy: string | null;
  deactivationId: string | null;
  reactivatedAt: Date | null;
  deletedAt: Date | null;
}

/** Maps a stored user to its {@link UserView}. */
export function toUserView(user: User): UserView {
  return {
    id: user._id,
    orgId: user.orgId,
    kind: user.kind,
    role: user.role,
    status: user.status,
    allowReactivationOnPurchase: user.allowReactivationOnPurchase,
    lastLoginAt: user.lastLoginAt,
    createdAt: user.createdAt,
    deactivatedAt: user.deactivatedAt ?? null,
    deactivatedBy: user.deactivatedBy ?? null,
    deactivationId: user.deactivationId ?? null,
    reactivatedAt: user.reactivatedAt ?? null,
    deletedAt: user.deletedAt ?? null,
  };
}
