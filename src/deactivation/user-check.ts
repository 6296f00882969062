import type { Deactivation } from '../models/deactivation.model';

/**
 * Whether a step job must read the user to know that the run still holds them (`inactive` under
 * this run), or may take it as given.
 *
 * The user cannot have moved while the run is in progress and has never failed: a reactivation
 * (API, SCIM, console, purchase check) is refused while the user's run is pending or running, and
 * a deletion needs the run completed. A run's status becomes `failed` only with a step's final
 * failure, and from then on its records keep the trace: the failed step's status, or, once an
 * operator's retry has run it again, its attempts above one. So the read is skipped only on a
 * step's first attempt in a run that is pending or running and whose every step has at most one
 * attempt and none failed; anything else (a retry, a stalled duplicate, any run that failed once)
 * reads the user, and an old run's step after a reactivation still changes nothing.
 *
 * @param run the run as it was just before this attempt was recorded
 * @param stepIndex the step's position in `run.steps`
 */
export function mustCheckUser(
  run: Pick<Deactivation, 'status' | 'steps'>,
  stepIndex: number,
): boolean {
  if (run.status !== 'pending' && run.status !== 'running') return true;
  if ((run.steps[stepIndex]?.attempts ?? 0) !== 0) return true;
  return run.steps.some((step) => step.status === 'failed' || step.attempts > 1);
}
