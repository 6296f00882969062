import { Schema } from 'mongoose';

import { stepNames, type StepName } from '../domain/step-names';

export { stepNames, type StepName };

export const runStatuses = ['pending', 'running', 'completed', 'failed'] as const;
export type RunStatus = (typeof runStatuses)[number];
export const stepStatuses = ['pending', 'running', 'completed', 'failed', 'skipped'] as const;
export type StepStatus = (typeof stepStatuses)[number];
export const runSources = ['api', 'bulk', 'sweep', 'scim'] as const;
export type RunSource = (typeof runSources)[number];

/** One step's record inside a run; its index in `steps` is its index in {@link stepNames}. */
export interface StepRecord {
  name: StepName;
  status: StepStatus;
  attempts: number;
  result: Record<string, unknown> | null;
  error: string | null;
  completedAt: Date | null;
}

/**
 * What the run will do, fixed when the request is accepted so that every step works from it
 * and steps can run in any order (see docs/rules.md).
 */
export interface DeactivationPlan {
  userKind: 'employee' | 'customer';
  allowReactivationOnPurchase: boolean;
  /** Tokens issued before this instant are revoked; later ones belong to a later life. */
  cutoff: Date;
  steps: Record<StepName, boolean>;
  transferTo: string | null;
  transferTeamId: string | null;
  teamIds: string[];
  /**
   * What each step would touch: in a dry run's plan only; `null` in every stored run's plan,
   * which is not counted (docs/rules.md).
   */
  counts: Record<StepName, number> | null;
}

/** A `deactivations` document: one run. */
export interface Deactivation {
  _id: string;
  orgId: string;
  userId: string;
  actorId: string;
  source: RunSource;
  reason: string | null;
  allowReactivationOnPurchase: boolean;
  status: RunStatus;
  plan: DeactivationPlan;
  steps: StepRecord[];
  createdAt: Date;
  completedAt: Date | null;
  /**
   * Unique per user and active period (`orgId/userId/epoch`): of racing requests for one user
   * exactly one can insert its run. A unique insert is the one write FerretDB v1 applies
   * atomically; its conditional updates are read-modify-write.
   */
  claim: string;
  /** Why the run failed as a whole (a step's own error is on the step). */
  error?: string | null;
  bulkId?: string | null;
}

const stepRecordSchema = new Schema<StepRecord>(
  {
    name: { type: String, enum: stepNames, required: true },
    status: { type: String, enum: stepStatuses, required: true },
    attempts: { type: Number, required: true, default: 0 },
    result: { type: Schema.Types.Mixed, default: null },
    error: { type: String, default: null },
    completedAt: { type: Date, default: null },
  },
  { _id: false },
);

export const deactivationSchema = new Schema<Deactivation>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    userId: { type: String, required: true },
    actorId: { type: String, required: true },
    source: { type: String, enum: runSources, required: true },
    reason: { type: String, default: null },
    allowReactivationOnPurchase: { type: Boolean, required: true },
    status: { type: String, enum: runStatuses, required: true, default: 'pending' },
    plan: { type: Schema.Types.Mixed, required: true },
    steps: { type: [stepRecordSchema], required: true },
    createdAt: { type: Date, required: true, default: () => new Date() },
    completedAt: { type: Date, default: null },
    claim: { type: String, required: true },
    error: { type: String },
    bulkId: { type: String },
  },
  { collection: 'deactivations', versionKey: false, minimize: false },
);

// Listing runs newest first with a cursor; a user's runs; the reconciler's unfinished runs.
deactivationSchema.index({ orgId: 1, createdAt: -1, _id: -1 });
deactivationSchema.index({ orgId: 1, userId: 1, createdAt: -1 });
deactivationSchema.index({ status: 1, createdAt: 1 });
deactivationSchema.index({ claim: 1 }, { unique: true });
deactivationSchema.index({ bulkId: 1, status: 1 });
