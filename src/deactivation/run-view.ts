import type { Deactivation } from '../models/deactivation.model';

/** A run as the API returns it (see docs/api.md). */
export interface RunView {
  id: string;
  orgId: string;
  userId: string;
  actorId: string;
  source: Deactivation['source'];
  status: Deactivation['status'];
  reason: string | null;
  allowReactivationOnPurchase: boolean;
  plan: Deactivation['plan'];
  steps: {
    name: string;
    status: string;
    attempts: number;
    result: unknown;
    error: string | null;
  }[];
  error: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

export function toRunView(run: Deactivation): RunView {
  return {
    id: run._id,
    orgId: run.orgId,
    userId: run.userId,
    actorId: run.actorId,
    source: run.source,
    status: run.status,
    reason: run.reason,
    allowReactivationOnPurchase: run.allowReactivationOnPurchase,
    plan: run.plan,
    steps: run.steps.map((step) => ({
      name: step.name,
      status: step.status,
      attempts: step.attempts,
      result: step.result,
      error: step.error,
    })),
    error: run.error ?? null,
    createdAt: run.createdAt,
    completedAt: run.completedAt,
  };
}
