import { request, type Dispatcher } from 'undici';
import { AppError } from '../errors/app-error';
import type { SignedHeaders } from './sign-webhook';

/** What one attempt came to. */
export interface SendOutcome {
  /** The receiver's status, or `null` when there was no answer. */
  statusCode: number | null;
  /** `null` on 2xx; otherwise a short code (`http_503`, `timeout`, `address_not_allowed`…). */
  error: string | null;
  /** The receiver's `Retry-After` (seconds or a date), in milliseconds from now. */
  retryAfterMs: number | null;
  durationMs: number;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from `now`; `null` if neither. */
export function parseRetryAfter(value: unknown, now: number): number | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function failureCode(error: unknown): string {
  if (error instanceof AppError) {
    const reason = (error.details as { reason?: unknown } | undefined)?.reason;
    return typeof reason === 'string' ? reason : error.code;
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (typeof code === 'string') return code.toLowerCase();
  return 'request_failed';
}

/**
 * POSTs one signed body through the guarded dispatcher, within `timeoutMs` from the first byte
 * sent to the last byte of the answer. The answer's body is read and dropped (the connection is
 * reused); only its status and `Retry-After` matter.
 */
export async function sendWebhook(
  dispatcher: Dispatcher,
  target: { url: string; body: string; headers: SignedHeaders },
  timeoutMs: number,
): Promise<SendOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    const response = await request(target.url, {
      method: 'POST',
      dispatcher,
      body: target.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'offboard-webhooks/1',
        ...target.headers,
      },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    const { statusCode } = response;
    const ok = statusCode >= 200 && statusCode < 300;
    return {
      statusCode,
      error: ok ? null : `http_${statusCode}`,
      retryAfterMs:
        statusCode === 429 || statusCode === 503
          ? parseRetryAfter(response.headers['retry-after'], Date.now())
          : null,
      durationMs: elapsed(),
    };
  } catch (error) {
    return {
      statusCode: null,
      error: failureCode(error),
      retryAfterMs: null,
      durationMs: elapsed(),
    };
  }
}
