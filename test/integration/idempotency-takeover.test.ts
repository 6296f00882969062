import { withIdempotency, type IdempotencyScope } from '../../src/api/idempotency';
import type { HandlerResult } from '../../src/api/route-definition';
import { AppError } from '../../src/errors/app-error';
import { expireIdempotencyRecords } from '../../src/workers/maintenance/expire-idempotency-records.job';
import { eventually } from '../../test-kit/service-process';
import { openTestStore, type TestStore } from '../support/test-env';

// Taking over an in-flight idempotency record (README "Choices"): a record older than a minute
// belongs to a request presumed dead, but that request may only have been slow. Real records in
// the real store; each "request" is withIdempotency around a handler the test holds open.

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore('idemtakeover');
});
afterAll(async () => {
  await store.close();
});

let keys = 0;
function scopeOf(tag: string): IdempotencyScope {
  keys += 1;
  return {
    idempotencyKey: `${tag}-${String(keys)}`,
    apiKeyId: 'key_test',
    route: 'POST /v1/orgs/:orgId/deactivations',
    request: { method: 'POST', body: { userId: 'usr_1' } },
  };
}

/** A handler held open until the test releases it (or makes it fail). */
function heldHandler(body: unknown): {
  execute: () => Promise<HandlerResult>;
  release: () => void;
  fail: (error: Error) => void;
  started: () => boolean;
} {
  let started = false;
  let release: () => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  return {
    execute: async () => {
      started = true;
      await gate;
      return { status: 202, body };
    },
    release: () => {
      release();
    },
    fail: (error) => {
      fail(error);
    },
    started: () => started,
  };
}

/** The record as stored: the one document withIdempotency keeps per key. */
async function onlyRecord(): Promise<{
  state: string;
  responseBody: unknown;
  owner: string | null;
  createdAt: Date;
  _id: string;
}> {
  const records = await store.models.idempotencyRecords.find({}).lean();
  expect(records).toHaveLength(1);
  return records[0]!;
}

/** Makes the in-flight record look abandoned: older than the one-minute takeover limit. */
async function age(id: string): Promise<void> {
  await store.models.idempotencyRecords.updateOne(
    { _id: id },
    { $set: { createdAt: new Date(Date.now() - 2 * 60_000) } },
  );
}

const notCalled = (): Promise<HandlerResult> => {
  throw new Error('a replay must not run the handler');
};

beforeEach(async () => {
  await store.models.idempotencyRecords.deleteMany({});
  await store.models.idempotencyAttemptEnds.deleteMany({});
});

describe('taking over an in-flight idempotency record', () => {
  it('a first request finishing after the takeover cannot overwrite the second one’s response', async () => {
    const scope = scopeOf('late');
    const slow = heldHandler({ from: 'first' });
    const first = withIdempotency(store.models, scope, slow.execute);
    await eventually(async () => Promise.resolve(slow.started()), 5_000, 'the first handler');
    const record = await onlyRecord();
    expect(record.state).toBe('in_flight');
    await age(record._id);

    const second = await withIdempotency(store.models, scope, () =>
      Promise.resolve({ status: 202, body: { from: 'second' } }),
    );
    expect(second.body).toEqual({ from: 'second' });
    expect(await onlyRecord()).toMatchObject({ state: 'done', responseBody: { from: 'second' } });

    // The first request was only slow: it answers its own client, and records nothing.
    slow.release();
    expect((await first).body).toEqual({ from: 'first' });
    expect(await onlyRecord()).toMatchObject({ state: 'done', responseBody: { from: 'second' } });
    const replay = await withIdempotency(store.models, scope, notCalled);
    expect(replay).toMatchObject({ status: 202, body: { from: 'second' } });
  });

  it('a first request failing with a 5xx after the takeover leaves the second one’s record alone', async () => {
    const scope = scopeOf('late-5xx');
    const slow = heldHandler({ from: 'first' });
    const first = withIdempotency(store.models, scope, slow.execute);
    await eventually(async () => Promise.resolve(slow.started()), 5_000, 'the first handler');
    await age((await onlyRecord())._id);

    const takeover = heldHandler({ from: 'second' });
    const second = withIdempotency(store.models, scope, takeover.execute);
    await eventually(async () => Promise.resolve(takeover.started()), 5_000, 'the takeover');

    slow.fail(new AppError('service_unavailable', 'the store went away'));
    await expect(first).rejects.toMatchObject({ code: 'service_unavailable' });
    // Still the second request's: a third one waits rather than running the handler again.
    expect(await onlyRecord()).toMatchObject({ state: 'in_flight' });
    await expect(withIdempotency(store.models, scope, notCalled)).rejects.toMatchObject({
      code: 'idempotency_in_flight',
    });

    takeover.release();
    expect((await second).body).toEqual({ from: 'second' });
    expect(await withIdempotency(store.models, scope, notCalled)).toMatchObject({
      body: { from: 'second' },
    });
  });

  it('a completion and a takeover at the same moment: exactly one wins, and the record is the winner’s', async () => {
    for (let round = 0; round < 15; round += 1) {
      await store.models.idempotencyRecords.deleteMany({});
      const scope = scopeOf('race');
      const slow = heldHandler({ from: 'first' });
      const first = withIdempotency(store.models, scope, slow.execute);
      await eventually(async () => Promise.resolve(slow.started()), 5_000, 'the first handler');
      await age((await onlyRecord())._id);

      const ran = { second: false };
      slow.release();
      const [firstResult, secondResult] = await Promise.allSettled([
        first,
        withIdempotency(store.models, scope, () => {
          ran.second = true;
          return Promise.resolve({ status: 202, body: { from: 'second' } });
        }),
      ]);
      expect(firstResult.status).toBe('fulfilled');
      const stored = await onlyRecord();
      expect(stored.state).toBe('done');
      if (ran.second) {
        // The takeover won: its response is the record, whatever the first one did after.
        expect({ round, stored: stored.responseBody }).toEqual({
          round,
          stored: { from: 'second' },
        });
        expect(secondResult).toMatchObject({
          status: 'fulfilled',
          value: { body: stored.responseBody },
        });
      } else {
        // The first one finished first: the second replayed it or was told to wait.
        expect({ round, stored: stored.responseBody }).toEqual({
          round,
          stored: { from: 'first' },
        });
        if (secondResult.status === 'fulfilled') {
          expect(secondResult.value.body).toEqual({ from: 'first' });
        } else {
          expect(secondResult.reason).toMatchObject({ code: 'idempotency_in_flight' });
        }
      }
      expect(await withIdempotency(store.models, scope, notCalled)).toMatchObject({
        body: stored.responseBody,
      });
    }
  });

  it('expires the attempts’ ends with the records', async () => {
    const scope = scopeOf('expiry');
    await withIdempotency(store.models, scope, () => Promise.resolve({ status: 200, body: {} }));
    expect(await store.models.idempotencyAttemptEnds.countDocuments({})).toBe(1);
    const later = new Date(Date.now() + 25 * 60 * 60 * 1000);
    expect(await expireIdempotencyRecords(store.models, later)).toEqual({ deleted: 2 });
    expect(await store.models.idempotencyAttemptEnds.countDocuments({})).toBe(0);
    expect(await store.models.idempotencyRecords.countDocuments({})).toBe(0);
  });
});
