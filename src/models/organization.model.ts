import { Schema } from 'mongoose';

/** Automatic inactivity sweeps of one organization (see docs/sweeps-and-bulks.md). */
export interface SweepPolicy {
  enabled: boolean;
  inactiveDays: number;
  neverLoggedInDays: number | null;
  exemptRoles: string[];
  cron: string;
  timezone: string;
  dryRun: boolean;
  maxPerRun: number;
}

/** An `organizations` document. */
export interface Organization {
  _id: string;
  name: string;
  sweepPolicy?: SweepPolicy | null;
  createdAt: Date;
}

const sweepPolicySchema = new Schema<SweepPolicy>(
  {
    enabled: { type: Boolean, required: true },
    inactiveDays: { type: Number, required: true },
    neverLoggedInDays: { type: Number, default: null },
    exemptRoles: { type: [String], default: [] },
    cron: { type: String, required: true },
    timezone: { type: String, required: true },
    dryRun: { type: Boolean, required: true },
    maxPerRun: { type: Number, required: true },
  },
  { _id: false },
);

export const organizationSchema = new Schema<Organization>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    sweepPolicy: { type: sweepPolicySchema, default: undefined },
    createdAt: { type: Date, required: true, default: () => new Date() },
  },
  { collection: 'organizations', versionKey: false },
);
