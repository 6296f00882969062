import { Schema } from 'mongoose';
import { userKinds, userRoles, type UserSnapshot } from './user.model';

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
  /**
   * The run this item creates, chosen when the selection is frozen (null in a dry run): a run
   * with this id exists once the item is `enqueued`. A skipped item's is cleared; the items route
   * shows it only for `enqueued` items. Items frozen before ids were chosen up front have null
   * until enqueued.
   */
  runId: string | null;
  /**
   * The user as a filter or a sweep's selection read them (null for ids given by the caller;
   * absent on items frozen before snapshots were kept): the batch assesses them from this
   * instead of reading them again (see BatchRequest.seen).
   */
  seen?: UserSnapshot | null;
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
    seen: {
      type: new Schema<UserSnapshot>(
        {
          kind: { type: String, enum: userKinds, required: true },
          role: { type: String, enum: userRoles, required: true },
          reactivatedAt: { type: Date, default: null },
        },
        { _id: false },
      ),
      default: null,
    },
  },
  { collection: 'bulkItems', versionKey: false },
);

bulkItemSchema.index({ bulkId: 1, batch: 1 });
bulkItemSchema.index({ bulkId: 1, seq: 1 }, { unique: true });
