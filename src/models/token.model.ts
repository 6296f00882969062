import { Schema } from 'mongoose';

export const tokenTypes = ['session', 'refresh', 'api_key'] as const;
export type TokenType = (typeof tokenTypes)[number];

/** A `tokens` document: a session, refresh token or API key of a user. */
export interface Token {
  _id: string;
  orgId: string;
  userId: string;
  type: TokenType;
  issuedAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedReason?: string | null;
  revokedByDeactivationId?: string | null;
}

export const tokenSchema = new Schema<Token>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    userId: { type: String, required: true },
    type: { type: String, enum: tokenTypes, required: true },
    issuedAt: { type: Date, required: true },
    expiresAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String, default: null },
    // Which run revoked it: lets a re-run report the same count without revoking again.
    revokedByDeactivationId: { type: String },
  },
  { collection: 'tokens', versionKey: false },
);

tokenSchema.index({ userId: 1, revokedAt: 1 });
tokenSchema.index({ revokedByDeactivationId: 1 });
