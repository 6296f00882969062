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

/**
 * Queues that take part in no flow and no multi-queue operation: on a Redis Cluster their keys
 * may live in a hash slot of their own, so their load goes to another master. A flow's queues
 * (runs and steps, and erasures, added through the same FlowProducer) must share the base
 * prefix's slot. A new queue outside every flow (webhooks) joins this list.
 */
export const ownSlotQueues: ReadonlySet<string> = new Set<string>([queueNames.maintenance]);

/**
 * The key prefix of `queue`: the base `QUEUE_PREFIX`, or for a queue of {@link ownSlotQueues}
 * the same prefix with the queue's name added to its hash tag (`{offboard}` becomes
 * `{offboard-maintenance}`). A prefix without a tag (a single Redis server) is used as it is.
 * Every producer, worker and reader of a queue takes its prefix from here.
 */
export function queuePrefixFor(prefix: string, queue: string): string {
  if (!ownSlotQueues.has(queue)) return prefix;
  return prefix.replace(/\{([^}]+)\}/, (_match, tag: string) => `{${tag}-${queue}}`);
}

/** Every distinct key prefix the service's queues use under `prefix` (clean-up, key scans). */
export function queuePrefixesOf(prefix: string): string[] {
  return [...new Set(Object.values(queueNames).map((queue) => queuePrefixFor(prefix, queue)))];
}
