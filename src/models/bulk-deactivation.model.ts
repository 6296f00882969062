import { Schema } from 'mongoose';

export const bulkStatuses = ['pending', 'running', 'completed', 'held', 'failed'] as const;
export type BulkStatus = (typeof bulkStatuses)[number];

/** The selection of a bulk deactivation: explicit ids, or an activity filter. */
export interface BulkFilter {
  activity: 'inactive' | 'never_logged_in';
  inactiveDays: number;
}

/**
 * A `bulkDeactivations` document (the project's own collection): one bulk deactivation or one
 * sweep's deactivations. Its selection is frozen in `bulkItems` when it is accepted.
 */
export interface BulkDeactivation {
  _id: string;
  orgId: string;
  actorId: string;
  source: 'bulk' | 'sweep';
  sweepId: string | null;
  reason: string | null;
  allowReactivationOnPurchase: boolean;
  dryRun: boolean;
  filter: BulkFilter | null;
  status: BulkStatus;
  matched: number;
  enqueued: number;
  /** Dry runs: users who would have been deactivated. */
  planned: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  processed: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
}

export const bulkDeactivationSchema = new Schema<BulkDeactivation>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    actorId: { type: String, required: true },
    source: { type: String, enum: ['bulk', 'sweep'], required: true },
    sweepId: { type: String, default: null },
    reason: { type: String, default: null },
    allowReactivationOnPurchase: { type: Boolean, required: true },
    dryRun: { type: Boolean, required: true },
    filter: { type: Schema.Types.Mixed, default: null },
    status: { type: String, enum: bulkStatuses, required: true },
    matched: { type: Number, required: true, default: 0 },
    enqueued: { type: Number, required: true, default: 0 },
    planned: { type: Number, required: true, default: 0 },
    skipped: { type: Number, required: true, default: 0 },
    skippedByReason: { type: Schema.Types.Mixed, default: {} },
    processed: { type: Number, required: true, default: 0 },
    createdAt: { type: Date, required: true },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
    error: { type: String, default: null },
  },
  { collection: 'bulkDeactivations', versionKey: false, minimize: false },
);

bulkDeactivationSchema.index({ orgId: 1, createdAt: -1, _id: -1 });
