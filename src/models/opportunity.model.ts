import { Schema } from 'mongoose';

/** One hand-over of an opportunity, appended by the transfer step. */
export interface OpportunityTransfer {
  from: string;
  to: string;
  at: Date;
  deactivationId: string;
}

/** An `opportunities` document. */
export interface Opportunity {
  _id: string;
  orgId: string;
  ownerId: string;
  title: string;
  status: 'open' | 'won' | 'lost';
  transfers: OpportunityTransfer[];
}

const transferSchema = new Schema<OpportunityTransfer>(
  {
    from: { type: String, required: true },
    to: { type: String, required: true },
    at: { type: Date, required: true },
    deactivationId: { type: String, required: true },
  },
  { _id: false },
);

export const opportunitySchema = new Schema<Opportunity>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    ownerId: { type: String, required: true },
    title: { type: String, required: true },
    status: { type: String, enum: ['open', 'won', 'lost'], required: true, default: 'open' },
    transfers: { type: [transferSchema], default: [] },
  },
  { collection: 'opportunities', versionKey: false },
);

opportunitySchema.index({ ownerId: 1, status: 1 });
opportunitySchema.index({ 'transfers.deactivationId': 1 });
