import { Schema } from 'mongoose';

/**
 * An `idempotencyAttemptEnds` document (the project's own collection): how one attempt at an
 * idempotency record ended. An attempt is one request's ownership of an in-flight record
 * (`owner`); it ends either when that request stores its response (`finished`) or when a later
 * request takes the record over because the first looked dead (`taken_over`). Both insert this
 * document under the same id, so exactly one of them happens: a unique insert is the one atomic
 * write FerretDB v1 offers (a conditional update there is read, modify, write). Kept as long as
 * the records, and expired by the same job.
 */
export interface IdempotencyAttemptEnd {
  /** `<record id>:<owner>`. */
  _id: string;
  outcome: 'finished' | 'taken_over';
  at: Date;
  expiresAt: Date;
}

export const idempotencyAttemptEndSchema = new Schema<IdempotencyAttemptEnd>(
  {
    _id: { type: String, required: true },
    outcome: { type: String, enum: ['finished', 'taken_over'], required: true },
    at: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
  },
  { collection: 'idempotencyAttemptEnds', versionKey: false },
);

idempotencyAttemptEndSchema.index({ expiresAt: 1 });
