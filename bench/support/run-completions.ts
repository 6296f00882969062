import { QueueEvents } from 'bullmq';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { runJobId } from '../../src/queues/job-ids';
import { queueNames } from '../../src/queues/queue-names';
import type { BenchStore } from './common';

/**
 * Learns that runs completed from the runs queue's event stream in Redis, not by polling the
 * store: a poll is a store read competing with the runs for the same two cores (every 5 ms it
 * added 25–70 ms to a large user's 200), and the floors are not observed at all. The parent job
 * completes after its processor marked the run `completed`, so the event follows the write.
 * Runs that fail never complete their parent: a slow store check (once a second) reports them.
 */
export interface RunCompletions {
  /** Resolves when the parent job of every run id completed; throws on a failed run. */
  waitFor: (runIds: readonly string[], timeoutMs: number) => Promise<void>;
  close: () => Promise<void>;
}

/** Starts reading the runs queue's events under `prefix` (from the stream's start). */
export async function watchRunCompletions(
  store: BenchStore,
  redisUrl: string,
  prefix: string,
): Promise<RunCompletions> {
  const connection = createRedisConnection(redisUrl, 'worker');
  // From the stream's first entry: an event written before the first read is not missed.
  const events = new QueueEvents(queueNames.runs, { connection, prefix, lastEventId: '0' });
  const completed = new Set<string>();
  // Bumped by every event, so a wait can tell whether one came while it was checking the store.
  let seen = 0;
  let changed: () => void = () => undefined;
  events.on('completed', ({ jobId }) => {
    completed.add(jobId);
    seen += 1;
    changed();
  });
  let failure: unknown = null;
  events.on('error', (error) => {
    failure = error;
    changed();
  });
  await events.waitUntilReady();

  const waitFor = async (runIds: readonly string[], timeoutMs: number): Promise<void> => {
    const jobIds = runIds.map((runId) => runJobId(runId));
    const deadline = Date.now() + timeoutMs;
    let nextStoreCheck = Date.now() + 1_000;
    while (!jobIds.every((jobId) => completed.has(jobId))) {
      if (failure !== null) throw new Error('the runs queue events failed', { cause: failure });
      if (Date.now() > deadline) throw new Error(`runs did not complete in ${timeoutMs} ms`);
      const before = seen;
      if (Date.now() > nextStoreCheck) {
        nextStoreCheck = Date.now() + 1_000;
        const failed = await store.models.deactivations.countDocuments({ status: 'failed' });
        if (failed > 0) throw new Error(`${failed} run(s) failed`);
      }
      // An event during the store check: look again at once rather than sleep.
      if (seen !== before) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };

  return {
    waitFor,
    close: async () => {
      await events.close();
      connection.disconnect();
    },
  };
}
