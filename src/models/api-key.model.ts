import { Schema } from 'mongoose';

export const apiKeyScopes = ['read', 'write', 'delete', 'purchases', 'admin', 'scim', '*'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

/** An `apiKeys` document (the project's own collection). The key itself is never stored. */
export interface ApiKey {
  _id: string;
  name: string;
  /** Hex SHA-256 of the whole key. */
  keyHash: string;
  /** The first characters of the key, to tell keys apart in listings. */
  prefix: string;
  scopes: ApiKeyScope[];
  /** Organization ids, or `['*']` for all. */
  orgIds: string[];
  /**
   * The user this key acts as: every `actorId` it sends must be this id (403 `actor_mismatch`
   * otherwise). Null or absent: a service key, which may name any actor of its organizations.
   */
  actorId?: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt?: Date | null;
}

export const apiKeySchema = new Schema<ApiKey>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    keyHash: { type: String, required: true },
    prefix: { type: String, required: true },
    scopes: { type: [String], enum: apiKeyScopes, required: true },
    orgIds: { type: [String], required: true },
    actorId: { type: String, default: null },
    createdAt: { type: Date, required: true, default: () => new Date() },
    revokedAt: { type: Date, default: null },
    lastUsedAt: { type: Date },
  },
  { collection: 'apiKeys', versionKey: false },
);

apiKeySchema.index({ keyHash: 1 }, { unique: true });
