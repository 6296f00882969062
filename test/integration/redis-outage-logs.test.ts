import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/logger';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';
import { startTestWorkers } from '../support/run-helpers';
import { eventually } from '../../test-kit/service-process';

// While Redis is away, every queue, flow producer and worker emits an error per reconnect
// attempt. The API's producers printed them as raw ECONNREFUSED stacks; now each connection logs
// one structured line per incident, and one when Redis is back.

interface Line {
  level: number;
  msg: string;
  connection?: string;
  kind?: string;
  [field: string]: unknown;
}

let redis: PrivateRedis;
let h: ApiHarness;
let workers: { close: () => Promise<void> };
const lines: Line[] = [];
const consoleErrors: unknown[][] = [];
let consoleSpy: jest.SpyInstance;

beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      done();
    },
  });
  const logger = createLogger({ logLevel: 'info' }, sink);
  h = await openApiHarness('outage', { REDIS_URL: redis.url }, { logger });
  workers = await startTestWorkers(
    h.store,
    { REDIS_URL: redis.url, QUEUE_PREFIX: h.config.queuePrefix },
    { logger },
  );
  consoleSpy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    consoleErrors.push(args);
  });
});

afterAll(async () => {
  consoleSpy.mockRestore();
  await workers.close();
  await h.close();
  await redis.kill();
}, 30_000);

const outageLines = (): Line[] => lines.filter((line) => line.kind === 'connection');

it('logs one structured line per connection while Redis is down, none raw, and one when it is back', async () => {
  await Promise.all(h.producers.queues.map((queue) => queue.getJobCounts()));
  await redis.kill();
  // Reconnect attempts every 200 ms to 2 s: dozens of errors from a dozen queue objects.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const during = outageLines();
  expect(during.map((line) => [line.level, line.msg, line.connection]).sort()).toEqual([
    [40, 'redis unavailable', 'producer'],
    [40, 'redis unavailable', 'worker'],
  ]);
  expect(during.every((line) => typeof line.error === 'string' && !('err' in line))).toBe(true);

  await redis.start();
  await eventually(
    () => Promise.resolve(outageLines().filter((line) => line.level === 30).length === 2),
    15_000,
    'both connections to report Redis back',
  );
  const back = outageLines().filter((line) => line.level === 30);
  expect(back.map((line) => [line.msg, line.connection]).sort()).toEqual([
    ['redis available again', 'producer'],
    ['redis available again', 'worker'],
  ]);
  expect(back.every((line) => typeof line.suppressed === 'number' && line.suppressed > 0)).toBe(
    true,
  );
  // Nothing printed past the logger: no raw stacks on the console.
  expect(consoleErrors.map((args) => String(args[0]))).toEqual([]);
  expect(lines.filter((line) => line.level >= 50)).toEqual([]);
}, 40_000);
