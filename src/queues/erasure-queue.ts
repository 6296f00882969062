import type { FlowProducer, JobNode } from 'bullmq';
import type { ErasureJobData } from './job-kinds';
import { jobOptions } from './job-options';
import { queueNames } from './queue-names';

export type { ErasureJobData };

/**
 * The erasure job of a user, derived from the user id so that asking twice queues one job.
 * `encodeURIComponent` keeps the id free of `:` (reserved by BullMQ; user ids may contain it)
 * while staying one-to-one.
 */
export const erasureJobId = (userId: string): string => `erase-${encodeURIComponent(userId)}`;

/**
 * Queues the user's erasure and returns its job id. A job already waiting or running is left
 * alone (the deterministic id would make a second add a no-op anyway); a failed one is retried,
 * and a finished one replaced, so repeating the deletion request always gets the erasure done.
 *
 * It goes through the API's FlowProducer as a single-node flow: the producer already exists,
 * shares the API's fail-fast connection and queue prefix, and reads jobs back (`getFlow`), so
 * the API needs no queue of its own.
 */
export async function enqueueErasure(flows: FlowProducer, data: ErasureJobData): Promise<string> {
  const jobId = erasureJobId(data.userId);
  // `getFlow` resolves to undefined for an unknown id, whatever its declared type says.
  const existing = (await flows.getFlow({ id: jobId, queueName: queueNames.erasures })) as
    JobNode | undefined;
  if (existing) {
    const state = await existing.job.getState();
    if (state === 'failed') {
      await existing.job.retry('failed').catch(async (error: unknown) => {
        // A concurrent request may have retried it first; only a job still failed is a problem.
        if ((await existing.job.getState()) === 'failed') throw error;
      });
      return jobId;
    }
    // Waiting, delayed or active: already on its way.
    if (state !== 'completed' && state !== 'unknown') return jobId;
    // Completed, yet the user is asked about again: run it once more (it is idempotent).
    if (state === 'completed') await existing.job.remove();
  }
  await flows.add({
    name: `erase ${data.userId}`,
    queueName: queueNames.erasures,
    data,
    // Failed jobs stay for two weeks so operators see them; a repeated deletion retries them.
    opts: { ...jobOptions[queueNames.erasures], jobId },
  });
  return jobId;
}
