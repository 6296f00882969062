import type { Queue } from 'bullmq';
import type { RedisClient } from '../infra/redis-connection';
import type { AppConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import { jobOptions } from '../queues/job-options';
import { queueNames } from '../queues/queue-names';
import { restoreSweepSchedulers, type SweepSkipReason } from '../sweeps/sweep-scheduler';

/** What the upkeep needs: the worker process's queues and the connection they share. */
export interface SchedulerUpkeepDeps {
  config: Pick<AppConfig, 'reconcileIntervalMs' | 'schedulerCheckIntervalMs'>;
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
  connection: RedisClient;
  maintenance: Queue;
  sweepsQueue: Queue;
}

/** The running upkeep of one worker process. */
export interface SchedulerUpkeep {
  /** Makes every scheduler exist now; resolves with how many were (re)created. */
  check: () => Promise<number>;
  /** Stops the timer and the reconnect hook; a check under way is left to fail on its own. */
  stop: () => void;
}

const housekeeping = jobOptions[queueNames.maintenance];

/**
 * Keeps the job schedulers in Redis: the reconciler, the idempotency-record expiry and every
 * enabled sweep policy's. They live in Redis, so a Redis that loses its data (`FLUSHALL`, a
 * failover to an empty replica, a restart without persistence) takes them with it, and the
 * reconciler that re-queues lost runs must not depend on what it is there to recover. So each
 * worker process checks on a timer of its own (`SCHEDULER_CHECK_INTERVAL_MS`), at start and on
 * every reconnect, and re-creates what is missing or stale, sweeps from MongoDB. Every step is
 * an idempotent upsert, so several processes doing it at once create each scheduler once.
 */
export async function startSchedulerUpkeep(deps: SchedulerUpkeepDeps): Promise<SchedulerUpkeep> {
  const { config, models, logger, metrics, connection, maintenance, sweepsQueue } = deps;
  const maintenanceSchedulers = [
    { id: 'expire-idempotency-records', every: 60 * 60 * 1000 },
    { id: 'reconcile-runs', every: config.reconcileIntervalMs },
  ];

  const check = async (): Promise<number> => {
    let created = 0;
    for (const { id, every } of maintenanceSchedulers) {
      // Re-upserting one that exists would only move its next job around; leave it.
      const existing = await maintenance.getJobScheduler(id);
      if (existing?.every === every) continue;
      await maintenance.upsertJobScheduler(id, { every }, { name: id, opts: housekeeping });
      created += 1;
    }
    const observer = {
      logger,
      onSkipped: (reason: SweepSkipReason) => {
        metrics.sweepPoliciesSkipped.inc({ reason });
      },
    };
    const sweeps = await restoreSweepSchedulers(models, sweepsQueue, observer, {
      onlyMissing: true,
    });
    return created + sweeps;
  };

  let stopped = false;
  let running: Promise<unknown> | null = null;
  const checkInBackground = (why: string): void => {
    // A check still waiting for Redis (the worker connection queues commands until it is back)
    // is enough: the next tick looks again.
    if (stopped || running !== null) return;
    running = check()
      .then((created) => {
        if (created > 0 && !stopped) {
          logger.warn({ created, why }, 're-created job schedulers that Redis had lost');
        }
      })
      .catch((error: unknown) => {
        if (!stopped) logger.warn({ err: error, why }, 'could not check the job schedulers');
      })
      .finally(() => {
        running = null;
      });
  };

  await check();
  const onReconnect = (): void => {
    checkInBackground('reconnect');
  };
  connection.on('ready', onReconnect);
  const timer = setInterval(() => {
    checkInBackground('timer');
  }, config.schedulerCheckIntervalMs);
  timer.unref();

  return {
    check,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      connection.off('ready', onReconnect);
    },
  };
}
