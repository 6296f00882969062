import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames } from './queue-names';

/** The API's producers, sharing its fail-fast Redis connection. */
export interface Producers {
  flows: FlowProducer;
  bulkQueue: Queue;
  sweepsQueue: Queue;
  /** Closes the producers; the connection is the caller's. */
  close: () => Promise<void>;
}

export function createProducers(connection: Redis, prefix: string): Producers {
  const flows = new FlowProducer({ connection, prefix });
  const bulkQueue = new Queue(queueNames.bulk, { connection, prefix });
  const sweepsQueue = new Queue(queueNames.sweeps, { connection, prefix });
  return {
    flows,
    bulkQueue,
    sweepsQueue,
    close: async () => {
      await Promise.all([flows.close(), bulkQueue.close(), sweepsQueue.close()]);
    },
  };
}
