import type { StepName } from '../models/deactivation.model';

/**
 * Deterministic job ids derived from the run id (no `:`, which BullMQ reserves), so adding the
 * same run twice adds nothing.
 */
export const runJobId = (runId: string): string => `run-${runId}`;
export const stepJobId = (runId: string, step: StepName): string => `run-${runId}-${step}`;

/** The kind of a job: the first word of its readable name (`revoke-tokens usr_1`). */
export const jobKind = (name: string): string => name.split(' ', 1)[0] ?? '';
