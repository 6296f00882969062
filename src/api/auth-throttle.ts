import type { Request } from 'express';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { SecurityConfig } from '../config/config';
import { AppError } from '../errors/app-error';
import type { RedisClient } from '../infra/redis-connection';

/** Counts failed authentications per client address and refuses an address that made too many. */
export interface AuthThrottle {
  /**
   * Runs `authenticate` for the request's client address: 429 `too_many_requests` without trying
   * while the address has used up its failures; a 401 for credentials that were presented counts
   * one failure. A request that sent no credentials at all (a browser's first visit) is no guess
   * and is not counted.
   */
  guard: <T>(req: Request, authenticate: () => Promise<T>) => Promise<T>;
}

/** The address throttling counts by: `req.ip`, which honours `TRUST_PROXY`. */
function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * An {@link AuthThrottle} whose counts live in Redis under `<queue prefix>:auth-failures:`, so
 * every API process of a deployment shares them. While Redis is away each process counts in its
 * own memory instead: guessing stays throttled, and callers with good keys are not refused.
 */
export function createAuthThrottle(
  redis: RedisClient,
  options: Pick<SecurityConfig, 'authFailureLimit' | 'authFailureWindowSeconds'> & {
    keyPrefix: string;
  },
): AuthThrottle {
  const limit = options.authFailureLimit;
  const limiterOptions = { points: limit, duration: options.authFailureWindowSeconds };
  const failures = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${options.keyPrefix}:auth-failures`,
    ...limiterOptions,
    insuranceLimiter: new RateLimiterMemory(limiterOptions),
  });
  return {
    guard: async (req, authenticate) => {
      const client = clientAddress(req);
      const state = await failures.get(client);
      if (state !== null && state.consumedPoints >= limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
        throw new AppError(
          'too_many_requests',
          `Too many failed authentications from this address; try again in ${retryAfterSeconds} s`,
          { details: { retryAfterSeconds } },
        );
      }
      try {
        return await authenticate();
      } catch (error) {
        if (
          error instanceof AppError &&
          error.code === 'unauthorized' &&
          req.headers.authorization !== undefined
        ) {
          await failures.penalty(client, 1);
        }
        throw error;
      }
    },
  };
}
