import type { Job } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { WebhookConfig } from '../config/config';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import type { WebhookDelivery } from '../models/webhook-delivery.model';
import type { DeliveryJobData } from '../queues/job-kinds';
import { disableEndpoint, failingLimitMs } from './disable-endpoint';
import { openSecret, requireSecretsKey } from './secret-box';
import { sendWebhook, type SendOutcome } from './send-webhook';
import { signWebhook } from './sign-webhook';
import { retryDelayMs } from './webhook-backoff';

/** What the delivery worker needs. */
export interface DeliveryDeps {
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
  config: WebhookConfig;
  dispatcher: Dispatcher;
}

type Outcome = 'delivered' | 'retry' | 'failed' | 'skipped';

/**
 * Delivers one event to one endpoint, one attempt per run of the job (DESIGN.md §8): signed
 * with every live secret, 2xx within the timeout is delivered; 410 disables the endpoint; any
 * other answer (3xx included: redirects are not followed), a timeout or a refused connection
 * records the attempt and throws the retryable `webhook_delivery_failed` carrying the chosen
 * delay, which the queue's backoff uses. The last attempt, or an endpoint failing for five
 * days, fails the delivery for good. One log line per attempt, ids only.
 */
export async function deliverWebhookJob(
  job: Job<DeliveryJobData>,
  deps: DeliveryDeps,
): Promise<unknown> {
  const { models, logger, metrics, config } = deps;
  const { deliveryId } = job.data;
  const delivery = await models.webhookDeliveries.findById(deliveryId).lean();
  if (!delivery || delivery.status === 'delivered') {
    return { deliveryId, status: delivery?.status ?? 'missing' };
  }
  const [endpoint, event] = await Promise.all([
    models.webhookEndpoints.findById(delivery.endpointId).lean(),
    models.webhookEvents.findById(delivery.eventId).lean(),
  ]);
  const now = new Date();
  const record = (set: Partial<WebhookDelivery>): Promise<unknown> =>
    models.webhookDeliveries.updateOne(
      { _id: deliveryId, status: { $ne: 'delivered' } },
      { $set: { ...set, updatedAt: new Date() } },
    );
  const finish = (outcome: Outcome, fields: Record<string, unknown>): void => {
    metrics.webhookDeliveries.inc({ outcome });
    logger.info(
      {
        deliveryId,
        eventId: delivery.eventId,
        endpointId: delivery.endpointId,
        orgId: delivery.orgId,
        attempt: job.attemptsMade + 1,
        outcome,
        ...fields,
      },
      'webhook attempt',
    );
  };

  if (!endpoint?.enabled) {
    const reason = endpoint ? 'endpoint_disabled' : 'endpoint_deleted';
    await record({ status: 'failed', lastError: reason, nextAttemptAt: null });
    finish('skipped', { error: reason });
    return { deliveryId, status: 'failed', reason };
  }
  if (!event) {
    await record({ status: 'failed', lastError: 'event_not_found', nextAttemptAt: null });
    throw new AppError('webhook_event_not_found', `Event ${delivery.eventId} does not exist`);
  }

  let outcome: SendOutcome;
  try {
    const key = requireSecretsKey(config.secretsKey);
    const secrets = endpoint.secrets
      .filter((secret) => secret.expiresAt === null || secret.expiresAt > now)
      .map((secret) => openSecret(key, secret.sealed, endpoint._id));
    const body = JSON.stringify({
      type: event.type,
      timestamp: event.timestamp.toISOString(),
      data: event.data,
    });
    const headers = signWebhook(secrets, event._id, now, body);
    outcome = await sendWebhook(
      deps.dispatcher,
      { url: endpoint.url, body, headers },
      config.timeoutMs,
    );
  } catch (error) {
    // Signing needs SECRETS_KEY and a secret that decrypts with it: an operator's fix, then a
    // retry from the dashboard.
    const code = error instanceof AppError ? error.code : 'internal';
    await record({ status: 'failed', lastError: code, nextAttemptAt: null });
    finish('failed', { error: code });
    throw error;
  }
  const attempts = delivery.attempts + 1;
  const seconds = outcome.durationMs / 1000;
  const attempt = { statusCode: outcome.statusCode, durationMs: outcome.durationMs };

  if (outcome.error === null) {
    await record({
      status: 'delivered',
      attempts,
      lastStatusCode: outcome.statusCode,
      lastError: null,
      nextAttemptAt: null,
      deliveredAt: new Date(),
    });
    if (endpoint.failingSince !== null) {
      await models.webhookEndpoints.updateOne(
        { _id: endpoint._id, failingSince: { $ne: null } },
        { $set: { failingSince: null } },
      );
    }
    metrics.webhookLatency.observe({ outcome: 'delivered' }, seconds);
    finish('delivered', attempt);
    return { deliveryId, status: 'delivered', statusCode: outcome.statusCode };
  }

  metrics.webhookLatency.observe({ outcome: 'failed' }, seconds);
  // Only the first failure since the last success starts the clock: one write, not one per
  // attempt of every delivery while a receiver is down.
  if (endpoint.failingSince === null) {
    await models.webhookEndpoints.updateOne(
      { _id: endpoint._id, failingSince: null },
      { $set: { failingSince: now } },
    );
  }
  const failingSince = endpoint.failingSince ?? now;
  const gone = outcome.statusCode === 410;
  const failedTooLong = now.getTime() - failingSince.getTime() >= failingLimitMs;
  const lastAttempt = gone || failedTooLong || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const delay = lastAttempt
    ? null
    : retryDelayMs(config.retryScheduleMs, job.attemptsMade + 1, outcome.retryAfterMs);
  // The endpoint is switched off before the delivery reads failed: whoever sees the one sees
  // the other.
  if (gone || failedTooLong) {
    const reason = gone ? 'gone' : 'failing';
    const disabled = await disableEndpoint(models, endpoint, reason, {
      deliveryId,
      statusCode: outcome.statusCode,
    });
    if (disabled) {
      metrics.webhookEndpointsDisabled.inc({ reason });
      logger.warn(
        { endpointId: endpoint._id, orgId: endpoint.orgId, reason },
        'webhook endpoint disabled',
      );
    }
  }
  await record({
    status: lastAttempt ? 'failed' : 'pending',
    attempts,
    lastStatusCode: outcome.statusCode,
    lastError: outcome.error,
    nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay),
  });
  finish(lastAttempt ? 'failed' : 'retry', { ...attempt, error: outcome.error, retryInMs: delay });
  if (gone || failedTooLong) return { deliveryId, status: 'failed', error: outcome.error };
  throw new AppError('webhook_delivery_failed', `Delivery ${deliveryId} failed: ${outcome.error}`, {
    details: { retryDelayMs: delay, statusCode: outcome.statusCode },
  });
}
