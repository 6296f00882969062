import { Schema } from 'mongoose';

/**
 * An `idempotencyRecords` document (the project's own collection): the first response to a
 * request carrying an `Idempotency-Key`. Expiry is a cleanup job: FerretDB v1 has no TTL index.
 */
export interface IdempotencyRecord {
  /** Hash of the API key id, the route template and the client's key (the org is in `requestHash`). */
  _id: string;
  requestHash: string;
  state: 'in_flight' | 'done';
  /**
   * The request that owns the record while it is in flight (a random token per attempt; null
   * in records written before owners existed). Only the owner stores the response.
   */
  owner: string | null;
  responseStatus: number | null;
  responseBody: unknown;
  responseHeaders: Record<string, string>;
  createdAt: Date;
  expiresAt: Date;
}

export const idempotencyRecordSchema = new Schema<IdempotencyRecord>(
  {
    _id: { type: String, required: true },
    requestHash: { type: String, required: true },
    state: { type: String, enum: ['in_flight', 'done'], required: true },
    owner: { type: String, default: null },
    responseStatus: { type: Number, default: null },
    responseBody: { type: Schema.Types.Mixed, default: null },
    responseHeaders: { type: Schema.Types.Mixed, default: {} },
    createdAt: { type: Date, required: true, default: () => new Date() },
    expiresAt: { type: Date, required: true },
  },
  { collection: 'idempotencyRecords', versionKey: false, minimize: false },
);

idempotencyRecordSchema.index({ expiresAt: 1 });
