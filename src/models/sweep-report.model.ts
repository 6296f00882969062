import { Schema } from 'mongoose';

export const sweepStatuses = [
  'running',
  'held',
  'approved',
  'completed',
  'dry_run',
  'failed',
] as const;
export type SweepStatus = (typeof sweepStatuses)[number];

/** A `sweeps` document (the project's own collection): the report every sweep leaves. */
export interface SweepReport {
  /** `${orgId}-${scheduled fire time}`: unique, so one fire is swept once however many workers. */
  _id: string;
  orgId: string;
  status: SweepStatus;
  dryRun: boolean;
  startedAt: Date;
  finishedAt: Date | null;
  matched: number;
  /** Users who would be (or were) deactivated after the skips. */
  selected: number;
  deactivated: number;
  skippedByReason: Record<string, number>;
  held: boolean;
  maxPerRun: number;
  bulkId: string | null;
  approvedBy: string | null;
  approvedAt: Date | null;
  error: string | null;
}

export const sweepReportSchema = new Schema<SweepReport>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    status: { type: String, enum: sweepStatuses, required: true },
    dryRun: { type: Boolean, required: true },
    startedAt: { type: Date, required: true },
    finishedAt: { type: Date, default: null },
    matched: { type: Number, default: 0 },
    selected: { type: Number, default: 0 },
    deactivated: { type: Number, default: 0 },
    skippedByReason: { type: Schema.Types.Mixed, default: {} },
    held: { type: Boolean, default: false },
    maxPerRun: { type: Number, required: true },
    bulkId: { type: String, default: null },
    approvedBy: { type: String, default: null },
    approvedAt: { type: Date, default: null },
    error: { type: String, default: null },
  },
  { collection: 'sweeps', versionKey: false, minimize: false },
);

sweepReportSchema.index({ orgId: 1, startedAt: -1, _id: -1 });
