import { Schema } from 'mongoose';

/** A `blocklist` document: a normalized email refused at purchase time. */
export interface BlocklistEntry {
  _id: string;
  orgId: string;
  emailHash: string;
  email?: string | null;
  reason: string;
  createdAt: Date;
  createdBy: string;
  deactivationId: string | null;
}

export const blocklistEntrySchema = new Schema<BlocklistEntry>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    emailHash: { type: String, required: true },
    // Cleared when the user is erased; the hash keeps the entry working.
    email: { type: String },
    reason: { type: String, required: true },
    createdAt: { type: Date, required: true, default: () => new Date() },
    createdBy: { type: String, required: true },
    deactivationId: { type: String, default: null },
  },
  { collection: 'blocklist', versionKey: false },
);

blocklistEntrySchema.index({ orgId: 1, emailHash: 1 }, { unique: true });
