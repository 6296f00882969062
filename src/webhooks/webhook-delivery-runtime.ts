import { Queue, type BackoffStrategy, type Job } from 'bullmq';
import type { RedisClient } from '../infra/redis-connection';
import type { AppConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import type { DeliveryJobData } from '../queues/job-kinds';
import { queueNames } from '../queues/queue-names';
import { createAddressPolicy } from './address-policy';
import { deliverWebhookJob } from './deliver-webhook.job';
import { createGuardedDispatcher } from './guarded-dispatcher';
import { reconcileDeliveries } from './reconcile-deliveries';
import { startDeliveryRelay } from './relay-deliveries';
import { webhookBackoff } from './webhook-backoff';

/** The webhook side of a worker process. */
export interface WebhookDelivery {
  queue: Queue;
  /** The `deliver` job handler. */
  deliver: (job: Job<DeliveryJobData>) => Promise<unknown>;
  /** The queue's backoff (the workers' `settings.backoffStrategy`). */
  backoffStrategy: BackoffStrategy;
  /** One pass of the delivery reconciler (run by the `reconcile-runs` job). */
  reconcile: (graceMs: number) => Promise<unknown>;
  /** Stops the relay and closes the queue and the connections to receivers. */
  close: () => Promise<void>;
}

/**
 * Builds what a worker process needs to deliver webhooks, and starts the relay that queues new
 * deliveries: the guarded dispatcher (address checks at connection time), the handler, the
 * backoff and the reconciler.
 */
export function startWebhookDelivery(
  deps: { config: AppConfig; models: Models; logger: Logger; metrics: ServiceMetrics },
  connection: RedisClient,
): WebhookDelivery {
  const { config, models, logger, metrics } = deps;
  const settings = config.webhooks;
  const queue = new Queue(queueNames.webhooks, { connection, prefix: config.queuePrefix });
  const dispatcher = createGuardedDispatcher(createAddressPolicy(settings.allowedAddresses), {
    connectTimeoutMs: settings.timeoutMs,
  });
  const retries = settings.retryScheduleMs.length;
  const relay = startDeliveryRelay({ models, queue, logger, retries }, settings.relayIntervalMs);
  return {
    queue,
    deliver: (job) =>
      deliverWebhookJob(job, {
        models,
        logger,
        metrics,
        config: settings,
        dispatcher,
      }),
    backoffStrategy: webhookBackoff(settings.retryScheduleMs),
    reconcile: (graceMs) => reconcileDeliveries({ models, queue, logger, retries }, { graceMs }),
    close: async () => {
      await relay.close();
      await queue.close();
      await dispatcher.close();
    },
  };
}
