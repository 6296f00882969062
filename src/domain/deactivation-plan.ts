import type { DeactivationPlan } from '../models/deactivation.model';
import { stepNames, type StepName } from './step-names';
import type { UserKind } from '../models/user.model';
import type { TransferTarget } from './transfer-target';

/** Which steps apply: employees get all five; the blocklist unless reactivation on purchase. */
export function applicableSteps(
  kind: UserKind,
  allowReactivationOnPurchase: boolean,
): Record<StepName, boolean> {
  const employee = kind === 'employee';
  return {
    'revoke-tokens': true,
    'cancel-subscriptions': true,
    'transfer-opportunities': employee,
    'remove-from-teams': employee,
    'blocklist-email': !allowReactivationOnPurchase,
  };
}

/** Builds the plan stored with the run; every step works from it and nothing else. */
export function buildPlan(input: {
  userKind: UserKind;
  allowReactivationOnPurchase: boolean;
  cutoff: Date;
  target: TransferTarget | null;
  teamIds: string[];
  /** `null`: not counted (every run; only a dry run counts). */
  counts: Record<StepName, number> | null;
}): DeactivationPlan {
  const steps = applicableSteps(input.userKind, input.allowReactivationOnPurchase);
  const { counts } = input;
  return {
    userKind: input.userKind,
    allowReactivationOnPurchase: input.allowReactivationOnPurchase,
    cutoff: input.cutoff,
    steps,
    transferTo: steps['transfer-opportunities'] ? (input.target?.to ?? null) : null,
    transferTeamId: steps['transfer-opportunities'] ? (input.target?.teamId ?? null) : null,
    teamIds: steps['remove-from-teams'] ? input.teamIds : [],
    counts:
      counts === null
        ? null
        : (Object.fromEntries(
            stepNames.map((name) => [name, steps[name] ? counts[name] : 0]),
          ) as Record<StepName, number>),
  };
}
