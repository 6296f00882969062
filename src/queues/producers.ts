import { FlowProducer, Queue } from 'bullmq';
import { createErrorIncidentLog } from '../logging/error-incident-log';
import type { Logger } from '../logging/logger';
import { queueNames, queuePrefixFor, type QueueName } from './queue-names';
import type { RedisClient } from '../infra/redis-connection';

/** The API's producers, sharing its fail-fast Redis connection. */
export interface Producers {
  flows: FlowProducer;
  bulkQueue: Queue;
  sweepsQueue: Queue;
  /** Every queue of the service, for the dashboard and the depth metrics. */
  queues: Queue[];
  /** Closes the producers; the connection is the caller's. */
  close: () => Promise<void>;
}

/** Opens every queue of the service on `connection`, keyed by name. */
export function openQueues(connection: RedisClient, prefix: string): Record<QueueName, Queue> {
  const names = Object.values(queueNames);
  return Object.fromEntries(
    names.map((name) => [
      name,
      new Queue(name, { connection, prefix: queuePrefixFor(prefix, name) }),
    ]),
  ) as Record<QueueName, Queue>;
}

/**
 * The API's producers on `connection`. Their errors (every reconnect attempt while Redis is away)
 * go to `logger` as one line per incident.
 */
export function createProducers(
  connection: RedisClient,
  prefix: string,
  logger: Logger,
): Producers {
  const flows = new FlowProducer({ connection, prefix });
  const queues = openQueues(connection, prefix);
  const errors = createErrorIncidentLog(logger);
  errors.routeRecovery(connection, 'producer');
  errors.routeErrors(flows, 'producer', 'flow-producer');
  for (const queue of Object.values(queues)) errors.routeErrors(queue, 'producer', queue.name);
  return {
    flows,
    bulkQueue: queues[queueNames.bulk],
    sweepsQueue: queues[queueNames.sweeps],
    queues: Object.values(queues),
    close: async () => {
      await Promise.all([flows.close(), ...Object.values(queues).map((queue) => queue.close())]);
    },
  };
}
