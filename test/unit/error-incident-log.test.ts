import { Writable } from 'node:stream';
import { createErrorIncidentLog } from '../../src/logging/error-incident-log';
import { createLogger } from '../../src/logging/logger';

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function capture(): { lines: Line[]; logger: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      done();
    },
  });
  return { lines, logger: createLogger({ logLevel: 'info' }, sink) };
}

const refused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

describe('the error incident log', () => {
  it('logs one line per incident, then one per interval with what it suppressed, then the recovery', async () => {
    const { lines, logger } = capture();
    let now = 1_000;
    const log = createErrorIncidentLog(logger, { intervalMs: 10_000, now: () => now });
    for (let i = 0; i < 50; i += 1) log.report('producer', `queue-${i % 7}`, refused());
    now += 10_000;
    for (let i = 0; i < 20; i += 1) log.report('producer', 'sweeps', refused());
    now += 2_000;
    log.recovered('producer');
    log.recovered('producer');
    await new Promise((resolve) => setImmediate(resolve));

    expect(
      lines.map(({ level, msg, connection, kind, code, suppressed }) => ({
        level,
        msg,
        connection,
        kind,
        code,
        suppressed,
      })),
    ).toEqual([
      {
        level: 40,
        msg: 'redis unavailable',
        connection: 'producer',
        kind: 'connection',
        code: 'ECONNREFUSED',
        suppressed: undefined,
      },
      {
        level: 40,
        msg: 'redis still unavailable',
        connection: 'producer',
        kind: 'connection',
        code: 'ECONNREFUSED',
        suppressed: 49,
      },
      {
        level: 30,
        msg: 'redis available again',
        connection: 'producer',
        kind: 'connection',
        code: undefined,
        suppressed: 19,
      },
    ]);
    expect(lines[2]?.downMs).toBe(12_000);
    // No stack for a refused connection: one short structured line.
    expect(JSON.stringify(lines[0])).not.toContain('    at ');
  });

  it('groups jobs that lost their lock or key, without their ids, and logs unexpected errors at error level with the stack', async () => {
    const { lines, logger } = capture();
    const log = createErrorIncidentLog(logger);
    for (const id of ['1', '2', '3']) {
      log.report(
        'worker',
        'worker:deactivation-steps',
        new Error(`could not renew lock for job ${id}`),
      );
    }
    log.report(
      'worker',
      'worker:maintenance',
      new Error('Missing key for job repeat:expire-idempotency-records:1. moveToFinished'),
    );
    log.report('worker', 'worker:sweeps', new Error('ERR Error running script'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map(({ level, kind }) => [level, kind])).toEqual([
      [40, 'job-lost'],
      [50, 'other'],
    ]);
    expect(JSON.stringify(lines[0])).not.toMatch(/job [0-9r]/);
    expect((lines[1]?.err as { stack?: string }).stack).toContain('ERR Error running script');
  });
});
