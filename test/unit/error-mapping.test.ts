import { DelayedError, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { z } from 'zod';
import { AppError } from '../../src/errors/app-error';
import { errorCodes } from '../../src/errors/error-codes';
import { toAppError } from '../../src/errors/to-app-error';
import { toJobError } from '../../src/workers/job-error';

describe('error mapping', () => {
  it('maps every code to an HTTP status', () => {
    for (const [code, entry] of Object.entries(errorCodes)) {
      expect(new AppError(code as keyof typeof errorCodes, 'x').httpStatus).toBe(entry.httpStatus);
    }
    expect(new AppError('team_leader', 'x').httpStatus).toBe(409);
    expect(new AppError('higher_role', 'x').httpStatus).toBe(403);
  });

  it('turns store and Redis outages into the retryable service_unavailable', () => {
    const selection = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), {
      name: 'MongoServerSelectionError',
    });
    expect(toAppError(selection).code).toBe('service_unavailable');
    expect(
      toAppError(new Error("Stream isn't writeable and enableOfflineQueue options is false")).code,
    ).toBe('service_unavailable');
    expect(toAppError(new Error('OOM command not allowed when used memory > maxmemory')).code).toBe(
      'service_unavailable',
    );
  });

  it('turns a Redis transaction refused because Redis is full into service_unavailable', () => {
    // What ioredis throws when BullMQ adds flows in one MULTI on a Redis at maxmemory.
    const aborted = (previous: Error[]): Error =>
      Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
        previousErrors: previous,
      });
    const full = new Error("OOM command not allowed when used memory > 'maxmemory'.");
    expect(toAppError(aborted([full])).code).toBe('service_unavailable');
    // Aborted for a command of ours that Redis did not understand: a bug, not an outage.
    expect(toAppError(aborted([new Error('ERR unknown command')])).code).toBe('internal');
    expect(toAppError(aborted([])).code).toBe('internal');
  });

  it('turns a Redis Cluster failover (a slot without a master) into service_unavailable', () => {
    for (const message of [
      'CLUSTERDOWN Hash slot not served',
      'CLUSTERDOWN The cluster is down',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      'Failed to refresh slots cache.',
      "Cluster isn't ready and enableOfflineQueue options is false",
    ]) {
      expect([message, toAppError(new Error(message)).code]).toEqual([
        message,
        'service_unavailable',
      ]);
    }
  });

  it('turns what the fault drills saw while the store was away into service_unavailable', () => {
    const ferretDbLostPostgres = (message: string): Error =>
      Object.assign(new Error(message), { name: 'MongoServerError' });
    for (const error of [
      ferretDbLostPostgres(
        '[msg_update.go:117 handler.(*Handler).updateDocument] failed to connect to `user=postgres database=ferretdb`: dial error',
      ),
      ferretDbLostPostgres(
        '[query_iterator.go:92 postgresql.(*queryIterator).Next] unexpected EOF',
      ),
      ferretDbLostPostgres('FATAL: terminating connection due to administrator command'),
      ferretDbLostPostgres(
        '[collection.go:109 postgresql.(*collection).Query] read tcp 127.0.0.1:34832->127.0.0.1:36083: read: connection reset by peer',
      ),
      Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' }),
      Object.assign(new Error('connection 8 to 127.0.0.1:44157 closed'), {
        name: 'MongoBulkWriteError',
      }),
    ]) {
      expect([error.message, toAppError(error).code]).toEqual([
        error.message,
        'service_unavailable',
      ]);
    }
    expect(toAppError(ferretDbLostPostgres('E11000 duplicate key error')).code).toBe('internal');
  });

  it('turns zod failures into validation_failed with the issues', () => {
    const result = z.object({ a: z.string() }).safeParse({ a: 1 });
    expect(result.success).toBe(false);
    const error = toAppError(result.error);
    expect(error.code).toBe('validation_failed');
    expect(error.details).toEqual(result.error?.issues);
  });

  it('signals BullMQ: permanent errors are unrecoverable, transient ones retry', () => {
    const permanent = toJobError(new AppError('invalid_step_data', 'the plan has no cutoff'));
    expect(permanent).toBeInstanceOf(UnrecoverableError);
    expect(permanent.message).toBe('invalid_step_data: the plan has no cutoff');
    const transient = new Error('connect ECONNRESET');
    expect(toJobError(transient)).toBe(transient);
  });

  it("passes BullMQ's signals of a job that moved itself to wait through untouched", () => {
    const delayed = new DelayedError();
    expect(toJobError(delayed)).toBe(delayed);
    const waiting = new WaitingChildrenError();
    expect(toJobError(waiting)).toBe(waiting);
  });
});
