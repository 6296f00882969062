import type { BackoffStrategy } from 'bullmq';
import { AppError } from '../errors/app-error';
import { webhookBackoffType } from '../queues/job-options';

/** Retry-After is honoured up to a day: a receiver cannot park a delivery for longer. */
const maxRetryAfterMs = 24 * 60 * 60 * 1000;

/**
 * The wait before retry number `retry` (1 for the first): the schedule's delay with ±10 %
 * jitter, so deliveries that failed together do not all come back in the same second; at least
 * the receiver's `Retry-After` when it sent one.
 */
export function retryDelayMs(
  schedule: readonly number[],
  retry: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const base = schedule[Math.min(retry, schedule.length) - 1] ?? 0;
  const jittered = Math.round(base * (0.9 + 0.2 * random()));
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, maxRetryAfterMs));
}

/** The delay a failed attempt chose (the worker stores it as the delivery's `nextAttemptAt`). */
export function chosenDelay(error: unknown): number | null {
  if (!(error instanceof AppError) || error.code !== 'webhook_delivery_failed') return null;
  const delay = (error.details as { retryDelayMs?: unknown } | undefined)?.retryDelayMs;
  return typeof delay === 'number' ? delay : null;
}

/**
 * BullMQ's custom backoff for the `webhooks` queue (docs/webhooks.md): the delay the failed attempt
 * chose and recorded, so the delivery log's `nextAttemptAt` is when the retry really comes;
 * otherwise (a crash, an error thrown before the attempt) the schedule's. Other types fall
 * through to BullMQ's built-in strategies, which it looks up before calling this one.
 */
export function webhookBackoff(schedule: readonly number[]): BackoffStrategy {
  return (attemptsMade, type, error) => {
    if (type !== webhookBackoffType) return 0;
    return chosenDelay(error) ?? retryDelayMs(schedule, attemptsMade, null);
  };
}
