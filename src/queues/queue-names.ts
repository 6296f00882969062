/** Every BullMQ queue of the service. Producers and workers share these names. */
export const queueNames = {
  /** Parent jobs, one per deactivation run. */
  runs: 'deactivations',
  /** Child jobs, one per step of a run. */
  steps: 'deactivation-steps',
  /** Periodic housekeeping: the reconciler and expiry of idempotency records. */
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof queueNames)[keyof typeof queueNames];
