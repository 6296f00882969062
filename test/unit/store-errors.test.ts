import { MongoServerError } from 'mongodb';
import { isDuplicateKey } from '../../src/store/duplicate-key';
import { isStoreUnavailable } from '../../src/store/store-unavailable';

/** A server error as the driver builds it from a reply. */
const serverError = (code: number, errmsg: string): MongoServerError =>
  new MongoServerError({ ok: 0, code, errmsg });

/** A bulk write error's shape: the driver's `MongoBulkWriteError` with its `writeErrors`. */
const bulkError = (writeErrors: unknown, code?: number): Error =>
  Object.assign(new Error('bulk write failed'), { name: 'MongoBulkWriteError', code, writeErrors });

describe('isDuplicateKey', () => {
  it('recognises a single write refused by a unique index', () => {
    expect(isDuplicateKey(serverError(11000, 'E11000 duplicate key error collection: x'))).toBe(
      true,
    );
    expect(isDuplicateKey({ code: 11000 })).toBe(true);
  });

  it('recognises a batch in which every failure is a duplicate, in every shape seen', () => {
    // The driver: an array of WriteErrors with code and index.
    expect(
      isDuplicateKey(
        bulkError(
          [
            { index: 0, code: 11000 },
            { index: 3, code: 11000 },
          ],
          11000,
        ),
      ),
    ).toBe(true);
    // Older drivers: one WriteError object rather than an array.
    expect(isDuplicateKey(bulkError({ index: 1, code: 11000 }))).toBe(true);
    // mongoose's insertMany: the code nested under `err`.
    expect(isDuplicateKey(bulkError([{ err: { index: 2, code: 11000 } }]))).toBe(true);
  });

  it('refuses anything else', () => {
    expect(isDuplicateKey(serverError(2, 'BadValue'))).toBe(false);
    // One duplicate among other failures is not "only duplicates".
    expect(
      isDuplicateKey(
        bulkError(
          [
            { index: 0, code: 11000 },
            { index: 1, code: 121 },
          ],
          11000,
        ),
      ),
    ).toBe(false);
    // A bulk write cut by the network: no write errors and no duplicate code.
    expect(isDuplicateKey(bulkError([]))).toBe(false);
    expect(isDuplicateKey(new Error('E11000 in the message only'))).toBe(false);
    expect(isDuplicateKey({ code: '11000' })).toBe(false);
    expect(isDuplicateKey(null)).toBe(false);
    expect(isDuplicateKey(undefined)).toBe(false);
  });
});

describe('isStoreUnavailable', () => {
  const ferretDb = (message: string): Error => serverError(1, message);

  it("recognises the driver's and mongoose's names for an unreachable store", () => {
    for (const name of [
      'MongoServerSelectionError',
      'MongooseServerSelectionError',
      'MongoNetworkError',
      'MongoNetworkTimeoutError',
      'MongoNotConnectedError',
      'MongoTopologyClosedError',
      'MongoPoolClearedError',
    ]) {
      expect([name, isStoreUnavailable(Object.assign(new Error('x'), { name }))]).toEqual([
        name,
        true,
      ]);
    }
  });

  it('recognises what FerretDB answers while its PostgreSQL is away, stopping or starting', () => {
    for (const message of [
      '[msg_update.go:117 handler.(*Handler).updateDocument] failed to connect to `user=postgres database=ferretdb`: dial error',
      'dial tcp 127.0.0.1:54329: connect: connection refused',
      '[query_iterator.go:92 postgresql.(*queryIterator).Next] unexpected EOF',
      'FATAL: terminating connection due to administrator command (SQLSTATE 57P01)',
      'FATAL: the database system is shutting down (SQLSTATE 57P03)',
      'FATAL: the database system is starting up (SQLSTATE 57P03)',
      'FATAL: the database system is in recovery mode (SQLSTATE 57P03)',
      'server closed the connection unexpectedly',
      'conn closed',
      'write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe',
      '[collection.go:109 postgresql.(*collection).Query] read tcp 127.0.0.1:34832->127.0.0.1:36083: read: connection reset by peer',
    ]) {
      expect([message, isStoreUnavailable(ferretDb(message))]).toEqual([message, true]);
    }
  });

  it("recognises the driver's dropped pooled connection and mongoose's disconnected model", () => {
    for (const error of [
      Object.assign(new Error('connection 8 to 127.0.0.1:44157 closed'), {
        name: 'MongoBulkWriteError',
      }),
      new Error('Operation `users.findOne()` buffering timed out after 10000ms'),
      new Error('Connection does not allow operations while it is disconnected'),
    ]) {
      expect([error.message, isStoreUnavailable(error)]).toEqual([error.message, true]);
    }
  });

  it('leaves errors that are about the operation alone', () => {
    expect(isStoreUnavailable(ferretDb('E11000 duplicate key error'))).toBe(false);
    expect(isStoreUnavailable(ferretDb('unknown operator: $foo'))).toBe(false);
    expect(isStoreUnavailable(new Error('Cast to string failed'))).toBe(false);
    expect(isStoreUnavailable('a string')).toBe(false);
  });
});
