/** Every BullMQ queue of the service. Producers and workers share these names. */
export const queueNames = {
  /** Parent jobs, one per deactivation run. */
  runs: 'deactivations',
  /** Child jobs, one per step of a run. */
  steps: 'deactivation-steps',
  /** Bulk deactivations: one job per bulk, paging through its frozen selection. */
  bulk: 'bulk-deactivations',
  /** Scheduled inactivity sweeps, one job scheduler per enabled policy. */
  sweeps: 'sweeps',
  /** Erasure of deleted users' personal data, one job per user. */
  erasures: 'erasures',
  /** Webhook deliveries, one job per (event, endpoint). */
  webhooks: 'webhooks',
  /** Periodic housekeeping: the reconciler and expiry of idempotency records. */
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof queueNames)[keyof typeof queueNames];
