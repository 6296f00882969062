import { createHash, randomUUID } from 'node:crypto';
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
 *
 * An in-flight record older than a minute is taken over (its request is presumed dead). The
 * takeover is safe against a first request that was only slow: each attempt owns the record
 * under a random token, and an attempt ends exactly once, by a unique insert
 * (`idempotencyAttemptEnds`) that either its completion or a takeover wins. A first request that
 * lost to a takeover answers its own client but writes nothing, so it can neither overwrite the
 * second request's response nor delete its record.
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
  const owner = randomUUID();
  const claimed = await claim(models, { id, requestHash, owner }, now);
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
    if (now.getTime() - existing.createdAt.getTime() < staleInFlightMs) throw inFlight();
    const previousOwner = existing.owner ?? null;
    // Ends the previous attempt; if its request finished meanwhile, or another request took
    // over first, this insert loses and the client retries into a replay or a 409.
    if (!(await endAttempt(models, id, previousOwner, 'taken_over', now))) throw inFlight();
    const takenOver = await models.idempotencyRecords.updateOne(
      { _id: id, state: 'in_flight', owner: previousOwner },
      { $set: { owner, createdAt: now } },
    );
    if (takenOver.matchedCount !== 1) throw inFlight();
  }

  let result: HandlerResult;
  try {
    result = await execute();
  } catch (error) {
    const appError = toAppError(error);
    if (appError.httpStatus >= 500) {
      await release(models, id, owner);
      throw error;
    }
    result = { status: appError.httpStatus, body: errorBody(appError) };
  }
  if (result.status >= 500) {
    await release(models, id, owner);
  } else if (await endAttempt(models, id, owner, 'finished', new Date())) {
    await models.idempotencyRecords.updateOne(
      { _id: id, owner },
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

function inFlight(): AppError {
  return new AppError(
    'idempotency_in_flight',
    'A request with this Idempotency-Key is still being processed',
  );
}

/**
 * Ends the attempt of `owner` on record `id` with `outcome`; false when it had already ended
 * (the other outcome won).
 */
async function endAttempt(
  models: Models,
  id: string,
  owner: string | null,
  outcome: 'finished' | 'taken_over',
  at: Date,
): Promise<boolean> {
  try {
    await models.idempotencyAttemptEnds.insertMany([
      {
        _id: `${id}:${owner ?? 'none'}`,
        outcome,
        at,
        expiresAt: new Date(at.getTime() + idempotencyTtlMs),
      },
    ]);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 11000) return false;
    throw error;
  }
}

/** A server error is not recorded: the record goes, if this attempt still owns it. */
async function release(models: Models, id: string, owner: string): Promise<void> {
  if (await endAttempt(models, id, owner, 'finished', new Date())) {
    await models.idempotencyRecords.deleteOne({ _id: id, state: 'in_flight', owner });
  }
}

async function claim(
  models: Models,
  record: { id: string; requestHash: string; owner: string },
  now: Date,
): Promise<boolean> {
  try {
    await models.idempotencyRecords.insertMany([
      {
        _id: record.id,
        requestHash: record.requestHash,
        state: 'in_flight',
        owner: record.owner,
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
