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
  /**
   * True when no attempt of this step was recorded before this one, so nothing of this run can
   * be in the store yet: the step reports what its own writes modified instead of counting the
   * run's documents again. Absent: count (any later attempt, and callers that do not know).
   */
  firstAttempt?: boolean;
  /** The user's email as the step job read it (blocklist); absent: the step reads the user. */
  email?: string | null;
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
