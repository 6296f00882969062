import { z } from 'zod';
import { purchaseReasons } from '../../lifecycle/check-purchase';
import { userKinds, userRoles, userStatuses } from '../../models/user.model';
import { idSchema, textSchema } from './common-schemas';

/** `POST /v1/orgs/:orgId/reactivations` body. */
export const reactivationBodySchema = z.strictObject({
  userId: idSchema,
  actorId: idSchema,
  reason: textSchema(1000).optional(),
});

/**
 * `POST /v1/orgs/:orgId/purchases/check` body. The address check is light on purpose: the check
 * must not refuse an unusual but real address a product sold to.
 */
export const purchaseCheckBodySchema = z.strictObject({
  email: z
    .string()
    .max(320)
    // No control characters: NUL cannot reach the store (see textSchema), and none belongs here.
    // eslint-disable-next-line no-control-regex -- matching them is the point
    .regex(/^\s*[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+\s*$/, 'an email address')
    .meta({ description: 'Compared trimmed and lower-cased, by its SHA-256 hash' }),
});

/** `POST /v1/orgs/:orgId/deletions` body; `confirm` repeats `userId` (400 otherwise). */
export const deletionBodySchema = z
  .strictObject({
    userId: idSchema,
    actorId: idSchema,
    confirm: z
      .string()
      .max(128)
      .meta({ description: 'Must equal userId: deletion is irreversible' }),
  })
  .refine((body) => body.confirm === body.userId, {
    path: ['confirm'],
    message: 'confirm must equal userId',
  });

const dateTime = z.iso.datetime();

/** A user as reactivations and deletions return it (see lifecycle/user-view). */
export const userViewSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    kind: z.enum(userKinds),
    role: z.enum(userRoles),
    status: z.enum(userStatuses),
    allowReactivationOnPurchase: z.boolean(),
    lastLoginAt: dateTime.nullable(),
    createdAt: dateTime,
    deactivatedAt: dateTime.nullable(),
    deactivatedBy: z.string().nullable(),
    deactivationId: z.string().nullable(),
    reactivatedAt: dateTime.nullable(),
    deletedAt: dateTime
      .nullable()
      .meta({ description: 'Set when the erasure has finished; null while it is queued' }),
  })
  .meta({
    title: 'User',
    description: 'Ids, kind, role, status and timestamps; never names or email',
  });

/** The purchase check's answer. */
export const purchaseCheckResultSchema = z
  .object({
    allowed: z.boolean(),
    reactivated: z.boolean().meta({ description: 'True only for the check that reactivated' }),
    reason: z.enum(purchaseReasons),
  })
  .meta({ title: 'PurchaseCheck' });

/** An accepted deletion (202). */
export const deletionAcceptedSchema = z
  .object({
    user: userViewSchema,
    erasureJobId: z.string().meta({ description: 'The erasure job, as the dashboard shows it' }),
  })
  .meta({ title: 'DeletionAccepted' });
