import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The job states a queue's depth is reported in. */
const jobStates = [
  'waiting',
  'waiting-children',
  'active',
  'delayed',
  'prioritized',
  'completed',
  'failed',
] as const;

/**
 * The Prometheus metrics of one process. Each process has its own registry (not prom-client's
 * global one), so an API and workers in one process share it and tests can build many.
 */
export interface ServiceMetrics {
  registry: Registry;
  stepDuration: Histogram<'step' | 'outcome'>;
  stepFailures: Counter<'step' | 'code'>;
  runs: Counter<'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  storeClientsReplaced: Counter;
  /** Webhook attempts by outcome: `delivered`, `retry`, `failed` (final), `skipped`. */
  webhookDeliveries: Counter<'outcome'>;
  webhookLatency: Histogram<'outcome'>;
  webhookEndpointsDisabled: Counter<'reason'>;
  sweepPoliciesSkipped: Counter<'reason'>;
}

/**
 * Creates the registry. `queues` are counted at every scrape (one `getJobCounts` per queue), so
 * the depth is read from Redis rather than tracked in memory and is right across processes.
 */
export function createServiceMetrics(queues: readonly Queue[]): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'offboard_' });
  new Gauge({
    name: 'offboard_queue_jobs',
    help: 'Jobs in each queue by state, read from Redis at scrape time',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(
        queues.map(async (queue) => ({
          queue: queue.name,
          counts: await queue.getJobCounts(...jobStates),
        })),
      );
      this.reset();
      for (const { queue, counts: byState } of counts) {
        for (const state of jobStates) this.set({ queue, state }, byState[state] ?? 0);
      }
    },
  });
  return {
    registry,
    stepDuration: new Histogram({
      name: 'offboard_step_duration_seconds',
      help: 'Duration of deactivation step attempts, by step and outcome (completed or failed)',
      labelNames: ['step', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    stepFailures: new Counter({
      name: 'offboard_step_failures_total',
      help: 'Failed step attempts, by step and error code',
      labelNames: ['step', 'code'],
      registers: [registry],
    }),
    runs: new Counter({
      name: 'offboard_runs_total',
      help: 'Deactivation runs finished by this process, by final status (completed or failed)',
      labelNames: ['status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'offboard_http_request_duration_seconds',
      help: 'API request durations, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    storeClientsReplaced: new Counter({
      name: 'offboard_store_clients_replaced_total',
      help: 'MongoDB driver clients replaced because their server monitor stopped (see README)',
      registers: [registry],
    }),
    ...createWebhookMetrics(registry),
    sweepPoliciesSkipped: new Counter({
      name: 'offboard_sweep_policies_skipped_total',
      help: 'Stored sweep policies left unscheduled when restoring schedulers: invalid_schedule or scheduler_refused',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

/** The webhook delivery worker's metrics, registered in `registry`. */
function createWebhookMetrics(
  registry: Registry,
): Pick<ServiceMetrics, 'webhookDeliveries' | 'webhookLatency' | 'webhookEndpointsDisabled'> {
  return {
    webhookDeliveries: new Counter({
      name: 'offboard_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, retry, failed for good, skipped)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookLatency: new Histogram({
      name: 'offboard_webhook_delivery_duration_seconds',
      help: 'Duration of webhook delivery attempts, from connecting to the last byte of the answer',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers: [registry],
    }),
    webhookEndpointsDisabled: new Counter({
      name: 'offboard_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints disabled by the worker, by reason (gone: 410; failing: 5 days)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
