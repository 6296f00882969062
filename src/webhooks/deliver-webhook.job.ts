import type { Job } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { WebhookConfig } from '../config/config';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import type { WebhookDelivery } from '../models/webhook-delivery.model';
import type { WebhookEndpoint } from '../models/webhook-endpoint.model';
import type { WebhookEvent } from '../models/webhook-event.model';
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

/** One run of the job: the delivery as read before it, and the time it decides by. */
interface Attempt {
  job: Job<DeliveryJobData>;
  deps: DeliveryDeps;
  delivery: WebhookDelivery;
  now: Date;
}

/**
 * Delivers one event to one endpoint, one attempt per run of the job (docs/webhooks.md): signed
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
  const { models } = deps;
  const { deliveryId } = job.data;
  const delivery = await models.webhookDeliveries.findById(deliveryId).lean();
  if (!delivery || delivery.status === 'delivered') {
    return { deliveryId, status: delivery?.status ?? 'missing' };
  }
  const [endpoint, event] = await Promise.all([
    models.webhookEndpoints.findById(delivery.endpointId).lean(),
    models.webhookEvents.findById(delivery.eventId).lean(),
  ]);
  const attempt: Attempt = { job, deps, delivery, now: new Date() };

  if (!endpoint?.enabled) {
    const reason = endpoint ? 'endpoint_disabled' : 'endpoint_deleted';
    await record(attempt, { status: 'failed', lastError: reason, nextAttemptAt: null });
    finish(attempt, 'skipped', { error: reason });
    return { deliveryId, status: 'failed', reason };
  }
  if (!event) {
    await record(attempt, { status: 'failed', lastError: 'event_not_found', nextAttemptAt: null });
    throw new AppError('webhook_event_not_found', `Event ${delivery.eventId} does not exist`);
  }
  const outcome = await signAndSend(attempt, endpoint, event);
  return outcome.error === null
    ? recordDelivered(attempt, endpoint, outcome)
    : recordFailure(attempt, endpoint, outcome);
}

/** Writes the delivery, unless another run has delivered it meanwhile. */
function record(attempt: Attempt, set: Partial<WebhookDelivery>): Promise<unknown> {
  return attempt.deps.models.webhookDeliveries.updateOne(
    { _id: attempt.job.data.deliveryId, status: { $ne: 'delivered' } },
    { $set: { ...set, updatedAt: new Date() } },
  );
}

/** Counts the attempt and writes its one log line. */
function finish(attempt: Attempt, outcome: Outcome, fields: Record<string, unknown>): void {
  const { job, deps, delivery } = attempt;
  deps.metrics.webhookDeliveries.inc({ outcome });
  deps.logger.info(
    {
      deliveryId: job.data.deliveryId,
      eventId: delivery.eventId,
      endpointId: delivery.endpointId,
      orgId: delivery.orgId,
      attempt: job.attemptsMade + 1,
      outcome,
      ...fields,
    },
    'webhook attempt',
  );
}

/** Signs the event with every live secret and sends it once. */
async function signAndSend(
  attempt: Attempt,
  endpoint: WebhookEndpoint,
  event: WebhookEvent,
): Promise<SendOutcome> {
  const { deps, now } = attempt;
  try {
    const key = requireSecretsKey(deps.config.secretsKey);
    const secrets = endpoint.secrets
      .filter((secret) => secret.expiresAt === null || secret.expiresAt > now)
      .map((secret) => openSecret(key, secret.sealed, endpoint._id));
    const body = JSON.stringify({
      type: event.type,
      timestamp: event.timestamp.toISOString(),
      data: event.data,
    });
    const headers = signWebhook(secrets, event._id, now, body);
    return await sendWebhook(
      deps.dispatcher,
      { url: endpoint.url, body, headers },
      deps.config.timeoutMs,
    );
  } catch (error) {
    // Signing needs SECRETS_KEY and a secret that decrypts with it: an operator's fix, then a
    // retry from the dashboard.
    const code = error instanceof AppError ? error.code : 'internal';
    await record(attempt, { status: 'failed', lastError: code, nextAttemptAt: null });
    finish(attempt, 'failed', { error: code });
    throw error;
  }
}

/** A 2xx: the delivery is done and the endpoint's failing clock stops. */
async function recordDelivered(
  attempt: Attempt,
  endpoint: WebhookEndpoint,
  outcome: SendOutcome,
): Promise<unknown> {
  const { deps, delivery } = attempt;
  await record(attempt, {
    status: 'delivered',
    attempts: delivery.attempts + 1,
    lastStatusCode: outcome.statusCode,
    lastError: null,
    nextAttemptAt: null,
    deliveredAt: new Date(),
  });
  if (endpoint.failingSince !== null) {
    await deps.models.webhookEndpoints.updateOne(
      { _id: endpoint._id, failingSince: { $ne: null } },
      { $set: { failingSince: null } },
    );
  }
  deps.metrics.webhookLatency.observe({ outcome: 'delivered' }, outcome.durationMs / 1000);
  finish(attempt, 'delivered', { statusCode: outcome.statusCode, durationMs: outcome.durationMs });
  return {
    deliveryId: attempt.job.data.deliveryId,
    status: 'delivered',
    statusCode: outcome.statusCode,
  };
}

/**
 * Anything but a 2xx: either another attempt after the chosen delay (thrown, for the queue's
 * backoff), or, on a 410, five days of failing or the last attempt, failed for good.
 */
async function recordFailure(
  attempt: Attempt,
  endpoint: WebhookEndpoint,
  outcome: SendOutcome,
): Promise<unknown> {
  const { job, deps, delivery, now } = attempt;
  deps.metrics.webhookLatency.observe({ outcome: 'failed' }, outcome.durationMs / 1000);
  const failingSince = await startFailingClock(attempt, endpoint);
  const gone = outcome.statusCode === 410;
  const failedTooLong = now.getTime() - failingSince.getTime() >= failingLimitMs;
  const lastAttempt = gone || failedTooLong || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const delay = lastAttempt
    ? null
    : retryDelayMs(deps.config.retryScheduleMs, job.attemptsMade + 1, outcome.retryAfterMs);
  // The endpoint is switched off before the delivery reads failed: whoever sees the one sees
  // the other.
  if (gone || failedTooLong) {
    await disableForGood(attempt, endpoint, gone ? 'gone' : 'failing', outcome.statusCode);
  }
  await record(attempt, {
    status: lastAttempt ? 'failed' : 'pending',
    attempts: delivery.attempts + 1,
    lastStatusCode: outcome.statusCode,
    lastError: outcome.error,
    nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay),
  });
  finish(attempt, lastAttempt ? 'failed' : 'retry', {
    statusCode: outcome.statusCode,
    durationMs: outcome.durationMs,
    error: outcome.error,
    retryInMs: delay,
  });
  const { deliveryId } = job.data;
  if (gone || failedTooLong) return { deliveryId, status: 'failed', error: outcome.error };
  throw new AppError('webhook_delivery_failed', `Delivery ${deliveryId} failed: ${outcome.error}`, {
    details: { retryDelayMs: delay, statusCode: outcome.statusCode },
  });
}

/** When the endpoint started failing, starting the clock now if it was not running. */
async function startFailingClock(attempt: Attempt, endpoint: WebhookEndpoint): Promise<Date> {
  // Only the first failure since the last success starts the clock: one write, not one per
  // attempt of every delivery while a receiver is down.
  if (endpoint.failingSince === null) {
    await attempt.deps.models.webhookEndpoints.updateOne(
      { _id: endpoint._id, failingSince: null },
      { $set: { failingSince: attempt.now } },
    );
  }
  return endpoint.failingSince ?? attempt.now;
}

/** Disables the endpoint; only the run that switches it off counts and logs it. */
async function disableForGood(
  attempt: Attempt,
  endpoint: WebhookEndpoint,
  reason: 'gone' | 'failing',
  statusCode: number | null,
): Promise<void> {
  const { deps, job } = attempt;
  const disabled = await disableEndpoint(deps.models, endpoint, reason, {
    deliveryId: job.data.deliveryId,
    statusCode,
  });
  if (disabled) {
    deps.metrics.webhookEndpointsDisabled.inc({ reason });
    deps.logger.warn(
      { endpointId: endpoint._id, orgId: endpoint.orgId, reason },
      'webhook endpoint disabled',
    );
  }
}
