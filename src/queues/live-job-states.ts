/**
 * The states of a job that BullMQ will still run or is running: a reconciler leaves such a job
 * alone and re-queues, or marks, only what has none of them.
 */
const liveJobStates = new Set([
  'waiting',
  'waiting-children',
  'delayed',
  'active',
  'prioritized',
  'wait',
]);

/** Whether a job in `state` (as `job.getState()` reports it) is still BullMQ's to run. */
export function isLiveJobState(state: string): boolean {
  return liveJobStates.has(state);
}
