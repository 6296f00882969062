import { mustCheckUser } from '../../src/deactivation/user-check';
import type { StepRecord } from '../../src/models/deactivation.model';

type Status = StepRecord['status'];
const step = (status: Status, attempts: number): StepRecord => ({
  name: 'revoke-tokens',
  status,
  attempts,
  result: null,
  error: null,
  completedAt: null,
});
const run = (status: 'pending' | 'running' | 'completed' | 'failed', ...steps: StepRecord[]) => ({
  status,
  steps,
});

describe('mustCheckUser', () => {
  it('takes the user as held on a first attempt of a run in progress that never failed', () => {
    expect(mustCheckUser(run('pending', step('pending', 0), step('pending', 0)), 0)).toBe(false);
    expect(mustCheckUser(run('running', step('completed', 1), step('pending', 0)), 1)).toBe(false);
    expect(mustCheckUser(run('running', step('skipped', 0), step('pending', 0)), 1)).toBe(false);
  });

  it('reads the user on any later attempt of the step (a retry, a stalled duplicate)', () => {
    expect(mustCheckUser(run('running', step('running', 1), step('pending', 0)), 0)).toBe(true);
    expect(mustCheckUser(run('running', step('pending', 1), step('pending', 0)), 0)).toBe(true);
  });

  it('reads the user in a run that failed, or whose records show a failure or a retry', () => {
    // The run failed for good: a reactivation was allowed from then on.
    expect(mustCheckUser(run('failed', step('failed', 1), step('pending', 0)), 1)).toBe(true);
    // An operator's retry ran the failed step again: the run reads running, the step keeps
    // its attempts.
    expect(mustCheckUser(run('running', step('completed', 2), step('pending', 0)), 1)).toBe(true);
    expect(mustCheckUser(run('running', step('failed', 1), step('pending', 0)), 1)).toBe(true);
  });

  it('reads the user of a completed run (a late duplicate)', () => {
    expect(mustCheckUser(run('completed', step('completed', 1), step('pending', 0)), 1)).toBe(true);
  });
});
