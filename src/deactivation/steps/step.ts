import type { KeyedLock } from '../../infra/redis-lock';
import type { Models } from '../../models/create-models';
import type { DeactivationPlan } from '../../models/deactivation.model';

/** What a step works from: the run's ids and plan, fixed when the request was accepted. */
export interface StepInput {
  runId: string;
  orgId: string;
  userId: string;
  actorId: string;
  plan: DeactivationPlan;
  /**
   * False when the run is no longer current (the user was reactivated or erased since): the
   * step then changes nothing and only reports what this run changed back then.
   */
  apply: boolean;
  now: Date;
}

/** What a step needs besides its input. */
export interface StepDeps {
  models: Models;
  /** For the documents several runs write: FerretDB v1 loses concurrent updates of one. */
  locks: KeyedLock;
}

/**
 * A step: one side effect, idempotent by its database conditions. Its result counts what this
 * run changed, and is the same on every re-run.
 */
export type Step<R extends Record<string, unknown> = Record<string, unknown>> = (
  input: StepInput,
  deps: StepDeps,
) => Promise<R>;
