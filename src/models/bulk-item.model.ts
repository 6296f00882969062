import { Schema } from 'mongoose';

/** One selected user of a bulk deactivation, frozen at acceptance. */
export interface BulkItem {
  /** `${bulkId}/${seq}`: the selection order, so the job pages by `_id`. */
  _id: string;
  bulkId: string;
  seq: number;
  /**
   * `seq` divided by the batch size: the job reads one batch by equality, which FerretDB pushes
   * down to PostgreSQL (a `seq` range or sort would scan the bulk's items every time).
   */
  batch: number;
  userId: string;
  status: 'pending' | 'enqueued' | 'skipped' | 'planned';
  reason: string | null;
  runId: string | null;
}

export const bulkItemSchema = new Schema<BulkItem>(
  {
    _id: { type: String, required: true },
    bulkId: { type: String, required: true },
    seq: { type: Number, required: true },
    batch: { type: Number, required: true },
    userId: { type: String, required: true },
    status: { type: String, enum: ['pending', 'enqueued', 'skipped', 'planned'], required: true },
    reason: { type: String, default: null },
    runId: { type: String, default: null },
  },
  { collection: 'bulkItems', versionKey: false },
);

bulkItemSchema.index({ bulkId: 1, batch: 1 });
bulkItemSchema.index({ bulkId: 1, seq: 1 }, { unique: true });
