import { AppError } from '../errors/app-error';
import type { AuditEvent } from '../models/audit-event.model';
import type { Models } from '../models/create-models';
import type { User } from '../models/user.model';
import { isDuplicateKey } from '../store/duplicate-key';

/** The two ways an inactive period can end; at most one of them happens per period. */
export type PeriodOutcome = 'user.reactivated' | 'user.deleted';

/** The audit event that ends a period; its `_id` is {@link outcomeEventId}. */
export type OutcomeEvent = AuditEvent & { type: PeriodOutcome };

/**
 * The id of the audit event that ends the user's current inactive period, whether by
 * reactivation or by deletion.
 *
 * FerretDB v1 applies concurrent conditional updates of one document as read-modify-write, so
 * "flip the user if still inactive" cannot decide a race; only a unique insert can. Every
 * reactivation (API or purchase) and every deletion first inserts its audit event under this
 * id: exactly one insert wins, so a period ends once and is audited once.
 *
 * The id names the period by its run and by the reactivation that began the active period
 * before it (as the run's `claim` does): setting `reactivatedAt` gives the next period a new
 * id, and a user made inactive without a run still gets one of their own.
 */
export function outcomeEventId(
  user: Pick<User, '_id' | 'deactivationId' | 'reactivatedAt'>,
): string {
  return `outcome/${user._id}/${user.deactivationId ?? '-'}/${user.reactivatedAt?.getTime() ?? 0}`;
}

/** The result of claiming a period's end: who holds it, and whether it is this caller. */
export interface OutcomeClaim {
  won: boolean;
  /** The stored event: this caller's when `won`, the earlier winner's otherwise. */
  event: OutcomeEvent;
}

/**
 * Inserts `event` as the end of the user's period. When another reactivation or deletion got
 * there first, returns theirs, so the caller can finish an interrupted winner's work (every
 * follow-up write is idempotent) or report the conflict.
 */
export async function claimOutcome(models: Models, event: OutcomeEvent): Promise<OutcomeClaim> {
  try {
    await models.auditEvents.insertMany([event]);
    return { won: true, event };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const existing = await models.auditEvents.findById(event._id).lean();
  if (existing?.type !== 'user.reactivated' && existing?.type !== 'user.deleted') {
    // Audit events are never deleted, and nothing else writes ids of this form.
    throw new AppError('internal', `The outcome event ${event._id} is unreadable`);
  }
  return { won: false, event: existing as OutcomeEvent };
}
