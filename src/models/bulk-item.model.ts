import { Schema } from 'mongoose';

/** One selected user of a bulk deactivation, frozen at acceptance. */
export interface BulkItem {
  /** `${bulkId}/${seq}`: the selection order, so the job pages by `_id`. */
  _id: string;
  bulkId: string;
  seq: number;
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
    userId: { type: String, required: true },
    status: { type: String, enum: ['pending', 'enqueued', 'skipped', 'planned'], required: true },
    reason: { type: String, default: null },
    runId: { type: String, default: null },
  },
  { collection: 'bulkItems', versionKey: false },
);

bulkItemSchema.index({ bulkId: 1, status: 1, seq: 1 });
bulkItemSchema.index({ bulkId: 1, seq: 1 }, { unique: true });
