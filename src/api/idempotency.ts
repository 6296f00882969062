import { createHash } from 'node:crypto';
import { AppError } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
import type { Models } from '../models/create-models';
import { isDuplicateKey } from '../store/duplicate-key';
import { errorBody } from './error-handler';
import type { HandlerResult } from './route-definition';

/** How long a first response is kept for replays. */
export const idempotencyTtlMs = 24 * 60 * 60 * 1000;
/** An in-flight record older than this belongs to a request that died: it may be taken over. */
const staleInFlightMs = 60 * 1000;

/** What an `Idempotency-Key` may be: 1 to 255 visible ASCII characters (documented as such). */
export const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Identifies one logical request: the same key, API key, organization and route. */
export interface IdempotencyScope {
  idempotencyKey: string;
  apiKeyId: string;
  route: string;
  /** Method, path and body, canonicalised by the caller. */
  request: unknown;
}

/**
 * Runs `execute` at most once per idempotency key: the same key and body replays the first
 * response (status, body, headers); a different body is 422; a duplicate while the first is
 * still in flight is 409. Server errors (5xx) are not recorded, so the client may try again.
 */
export async function withIdempotency(
  models: Models,
  scope: IdempotencyScope,
  execute: () => Promise<HandlerResult>,
): Promise<HandlerResult> {
  if (!idempotencyKeyPattern.test(scope.idempotencyKey)) {
    throw new AppError(
      'validation_failed',
      'Idempotency-Key must be 1 to 255 visible ASCII characters',
    );
  }
  const id = sha256(`${scope.apiKeyId}\n${scope.route}\n${scope.idempotencyKey}`);
  const requestHash = sha256(JSON.stringify(scope.request));
  const now = new Date();
  const claimed = await claim(models, id, requestHash, now);
  if (!claimed) {
    const existing = await models.idempotencyRecords.findById(id).lean();
    if (!existing) return withIdempotency(models, scope, execute);
    if (existing.requestHash !== requestHash) {
      throw new AppError(
        'idempotency_key_reused',
        'This Idempotency-Key was used with a different request',
      );
    }
    if (existing.state === 'done' && existing.responseStatus !== null) {
      return {
        status: existing.responseStatus,
        body: existing.responseBody,
        headers: existing.responseHeaders,
      };
    }
    if (now.getTime() - existing.createdAt.getTime() < staleInFlightMs) {
      throw new AppError(
        'idempotency_in_flight',
        'A request with this Idempotency-Key is still being processed',
      );
    }
    const takenOver = await models.idempotencyRecords.updateOne(
      { _id: id, state: 'in_flight', createdAt: existing.createdAt },
      { $set: { createdAt: now } },
    );
    if (takenOver.modifiedCount !== 1) {
      throw new AppError(
        'idempotency_in_flight',
        'A request with this Idempotency-Key is still being processed',
      );
    }
  }

  let result: HandlerResult;
  try {
    result = await execute();
  } catch (error) {
    const appError = toAppError(error);
    if (appError.httpStatus >= 500) {
      await models.idempotencyRecords.deleteOne({ _id: id, state: 'in_flight' });
      throw error;
    }
    result = { status: appError.httpStatus, body: errorBody(appError) };
  }
  if (result.status >= 500) {
    await models.idempotencyRecords.deleteOne({ _id: id, state: 'in_flight' });
  } else {
    await models.idempotencyRecords.updateOne(
      { _id: id },
      {
        $set: {
          state: 'done',
          responseStatus: result.status,
          responseBody: JSON.parse(JSON.stringify(result.body)) as unknown,
          responseHeaders: result.headers ?? {},
        },
      },
    );
  }
  return result;
}

async function claim(models: Models, id: string, requestHash: string, now: Date): Promise<boolean> {
  try {
    await models.idempotencyRecords.insertMany([
      {
        _id: id,
        requestHash,
        state: 'in_flight',
        responseStatus: null,
        responseBody: null,
        responseHeaders: {},
        createdAt: now,
        expiresAt: new Date(now.getTime() + idempotencyTtlMs),
      },
    ]);
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}
