import type { Queue } from 'bullmq';
import { mapLimit } from '../infra/map-limit';
import type { Logger } from '../logging/logger';
import type { Models } from '../models/create-models';
import { writeConcurrency } from '../store/per-key-queries';
import { enqueueDeliveries } from './delivery-queue';

/** What the relay needs. */
export interface RelayDeps {
  models: Models;
  queue: Queue;
  logger: Logger;
  /** Retries after the first attempt: the schedule's length. */
  retries: number;
}

/**
 * Queues the deliveries recorded since the last pass (`queuedAt: null`), a batch at a time. The
 * facts are recorded wherever they happen, by code that has no webhook queue at hand (API
 * handlers, every kind of job), so they only write MongoDB and this relay moves them to Redis.
 *
 * A batch is marked queued before its jobs exist, never after: FerretDB v1 applies an update as
 * read-modify-write of the whole document, so a mark written while the delivery job records its
 * attempt can put back the delivery as it was before the attempt (pending, no attempt), and the
 * delivery is then never retried. Marked first, no job of the batch runs until the mark is
 * written. If queueing fails after the mark, the deliveries are marked but have no job: the
 * reconciler (reconcile-deliveries.ts) queues them after its grace period, as after a Redis loss.
 * Job ids are delivery ids: two relays (two worker processes) queue a delivery once.
 */
export async function relayDeliveries(deps: RelayDeps, batch = 500): Promise<number> {
  const { models, queue, retries } = deps;
  let relayed = 0;
  for (;;) {
    const deliveries = await models.webhookDeliveries
      // `status` by equality is what FerretDB v1 pushes down; pending deliveries are few.
      .find({ status: 'pending', queuedAt: null }, { _id: 1, orgId: 1, endpointId: 1, eventId: 1 })
      .limit(batch)
      .lean();
    if (deliveries.length === 0) return relayed;
    const now = new Date();
    // One update per delivery rather than an `$in` (see src/store/per-key-queries.ts).
    await mapLimit(deliveries, writeConcurrency, (delivery) =>
      models.webhookDeliveries.updateOne(
        { _id: delivery._id, queuedAt: null },
        { $set: { queuedAt: now } },
      ),
    );
    await enqueueDeliveries(queue, deliveries, retries);
    relayed += deliveries.length;
    if (deliveries.length < batch) return relayed;
  }
}

/** A running relay loop; `close` stops it after the pass in progress. */
export interface RunningRelay {
  close: () => Promise<void>;
}

/**
 * Runs {@link relayDeliveries} every `intervalMs` (never two passes at once). A failed pass (Redis
 * or MongoDB away) is logged and tried again on the next tick; nothing is lost meanwhile, the
 * deliveries wait in MongoDB.
 */
export function startDeliveryRelay(deps: RelayDeps, intervalMs: number): RunningRelay {
  let pass: Promise<void> = Promise.resolve();
  let stopped = false;
  let failing = false;
  const tick = (): void => {
    pass = relayDeliveries(deps).then(
      () => {
        failing = false;
      },
      (error: unknown) => {
        if (!failing) deps.logger.warn({ err: error }, 'could not queue webhook deliveries');
        failing = true;
      },
    );
    void pass.then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  let timer = setTimeout(tick, intervalMs);
  return {
    close: async () => {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
