import { Schema } from 'mongoose';

export const userKinds = ['employee', 'customer'] as const;
export const userRoles = ['admin', 'manager', 'member'] as const;
export const userStatuses = ['active', 'inactive', 'deleted'] as const;

export type UserKind = (typeof userKinds)[number];
export type UserRole = (typeof userRoles)[number];
export type UserStatus = (typeof userStatuses)[number];

/**
 * What a selection saw of an active user, kept with the selection so that accepting the user
 * later needs no read: the fields the rules and the run's claim depend on. Nothing personal.
 */
export interface UserSnapshot {
  kind: UserKind;
  role: UserRole;
  reactivatedAt: Date | null;
}

/** A `users` document. Personal fields are absent on a deleted user's tombstone. */
export interface User {
  _id: string;
  orgId: string;
  kind: UserKind;
  email?: string | null;
  emailHash?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  role: UserRole;
  status: UserStatus;
  lastLoginAt: Date | null;
  createdAt: Date;
  allowReactivationOnPurchase: boolean;
  deactivatedAt?: Date | null;
  deactivatedBy?: string | null;
  deactivationId?: string | null;
  reactivatedAt?: Date | null;
  deletedAt?: Date | null;
  /** The identity provider's id for the user (SCIM `externalId`); erased with the user. */
  externalId?: string | null;
  /** When SCIM last changed the user's profile (userName, names, externalId). */
  profileUpdatedAt?: Date | null;
  /**
   * Set by a SCIM `DELETE`: the user is gone for SCIM at once and is erased once their
   * deactivation has completed (docs/scim.md).
   */
  erasurePending?: boolean;
  erasureRequestedAt?: Date | null;
}

export const userSchema = new Schema<User>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    kind: { type: String, enum: userKinds, required: true },
    // Stored trimmed and lower-cased (docs/data.md); absent once the user is erased.
    email: { type: String, trim: true, lowercase: true },
    // SHA-256 of the normalized email: what survives erasure (docs/rules.md).
    emailHash: { type: String },
    firstName: { type: String },
    lastName: { type: String },
    role: { type: String, enum: userRoles, required: true },
    status: { type: String, enum: userStatuses, required: true, default: 'active' },
    lastLoginAt: { type: Date, default: null },
    createdAt: { type: Date, required: true, default: () => new Date() },
    allowReactivationOnPurchase: { type: Boolean, required: true, default: false },
    deactivatedAt: { type: Date },
    deactivatedBy: { type: String },
    deactivationId: { type: String },
    reactivatedAt: { type: Date },
    deletedAt: { type: Date },
    externalId: { type: String },
    profileUpdatedAt: { type: Date },
    erasurePending: { type: Boolean },
    erasureRequestedAt: { type: Date },
  },
  { collection: 'users', versionKey: false },
);

// Activity listings and sweeps page through an organization's users by status and last login.
userSchema.index({ orgId: 1, status: 1, lastLoginAt: 1, _id: 1 });
// Purchase checks look a user up by email within an organization; last-admin checks by role.
userSchema.index({ orgId: 1, email: 1 });
userSchema.index({ orgId: 1, role: 1, status: 1 });
// SCIM looks users up by the provider's id; the erasure of SCIM-deleted users finds them by
// equality on the marker (FerretDB pushes only top-level equality down, docs/local-services.md).
userSchema.index({ orgId: 1, externalId: 1 });
userSchema.index({ erasurePending: 1, status: 1 });
