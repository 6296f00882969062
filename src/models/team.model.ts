import { Schema } from 'mongoose';

/** A `teams` document (sales teams). */
export interface Team {
  _id: string;
  orgId: string;
  name: string;
  leaderId: string | null;
  memberIds: string[];
  createdAt: Date;
}

export const teamSchema = new Schema<Team>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    name: { type: String, required: true },
    leaderId: { type: String, default: null },
    memberIds: { type: [String], default: [] },
    createdAt: { type: Date, required: true, default: () => new Date() },
  },
  { collection: 'teams', versionKey: false },
);

// The transfer target walks an organization's teams in creation order (docs/rules.md).
teamSchema.index({ orgId: 1, createdAt: 1, _id: 1 });
teamSchema.index({ memberIds: 1 });
teamSchema.index({ leaderId: 1 });
