import { Schema } from 'mongoose';

/** An `auditEvents` document. Holds ids only, never personal data (see docs/data.md). */
export interface AuditEvent {
  _id: string;
  orgId: string;
  type: string;
  actorId: string;
  subjectId: string;
  at: Date;
  data: Record<string, unknown>;
}

export const auditEventSchema = new Schema<AuditEvent>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    type: { type: String, required: true },
    actorId: { type: String, required: true },
    subjectId: { type: String, required: true },
    at: { type: Date, required: true, default: () => new Date() },
    data: { type: Schema.Types.Mixed, default: {} },
  },
  { collection: 'auditEvents', versionKey: false, minimize: false },
);

auditEventSchema.index({ orgId: 1, subjectId: 1, at: 1 });
auditEventSchema.index({ orgId: 1, type: 1, at: 1 });
