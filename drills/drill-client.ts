import type { DrillStore, DrillUser } from './drill-store';

// A drill's client: submits every deactivation the way a careful client does, retrying through
// the faults.

/** What the submitting client saw. */
export interface Submission {
  /** Run id per user, for every request the service accepted (202, or 503 naming the run). */
  runIds: Map<string, string>;
  /** Answers 500–599 other than 503: what a drill must never see. */
  serverErrors: number;
  unavailable: number;
  /** The first few 5xx answers other than 503, for the report. */
  errorSamples: string[];
}

interface Answer {
  status: number;
  body: { id?: string; error?: { code?: string; details?: { deactivationId?: string } } } | null;
}

/** An empty {@link Submission}, filled by {@link submitAll} as answers come. */
export function newSubmission(): Submission {
  return { runIds: new Map(), serverErrors: 0, unavailable: 0, errorSamples: [] };
}

/**
 * Posts one deactivation per user, `concurrency` at a time, the way a careful client does: a
 * 503 that names the run means it is recorded; any other 503, a refused connection or a 5xx is
 * retried; a 409 after such a retry means an earlier attempt got through, so the run is read
 * from the store.
 */
export async function submitAll(
  baseUrl: string,
  store: DrillStore,
  users: DrillUser[],
  options: {
    concurrency?: number;
    onProgress?: (done: number) => void;
    /** Filled in place, so the drill sees the accepted runs while it runs. */
    submission?: Submission;
  } = {},
): Promise<Submission> {
  const submission = options.submission ?? newSubmission();
  let next = 0;
  let done = 0;
  const post = async (user: DrillUser): Promise<Answer | null> => {
    try {
      const response = await fetch(`${baseUrl}/v1/orgs/${store.orgId}/deactivations`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${store.apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ userId: user.userId, actorId: store.actorId }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      const body = text.startsWith('{') ? (JSON.parse(text) as Answer['body']) : null;
      return { status: response.status, body };
    } catch {
      return null;
    }
  };
  const one = async (user: DrillUser): Promise<void> => {
    let last = 'none (every attempt failed or timed out)';
    for (let attempt = 0; ; attempt += 1) {
      const answer = await post(user);
      if (answer?.status === 202 && answer.body?.id) {
        submission.runIds.set(user.userId, answer.body.id);
        return;
      }
      const named = answer?.body?.error?.details?.deactivationId;
      if (answer?.status === 503) submission.unavailable += 1;
      else if (answer !== null && answer.status >= 500) {
        submission.serverErrors += 1;
        if (submission.errorSamples.length < 3) {
          submission.errorSamples.push(`${answer.status} ${JSON.stringify(answer.body)}`);
        }
      }
      if (answer?.status === 503 && named) {
        submission.runIds.set(user.userId, named);
        return;
      }
      // A 409 naming the run: an earlier attempt got through (the user is switched and the run
      // recorded). A 409 without one is a run still being written, or left half-way by an
      // attempt that failed; a later retry finishes it.
      if (answer?.status === 409 && named) {
        submission.runIds.set(user.userId, named);
        return;
      }
      // `already_inactive` after a retry: an attempt whose answer never came (it timed out on
      // our side) got through, and its run has finished already. The user names the run.
      if (
        attempt > 0 &&
        answer?.status === 409 &&
        answer.body?.error?.code === 'already_inactive'
      ) {
        const switched = await store.models.users.findById(user.userId).lean();
        if (switched?.status === 'inactive' && switched.deactivationId) {
          submission.runIds.set(user.userId, switched.deactivationId);
          return;
        }
      }
      if (answer !== null && answer.status < 500 && answer.status !== 409) {
        throw new Error(
          `POST for ${user.userId} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
        );
      }
      if (answer !== null) last = `${answer.status} ${JSON.stringify(answer.body)}`;
      if (attempt > 600) {
        throw new Error(`POST for ${user.userId} never got through; last answer: ${last}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  const lanes = Array.from({ length: options.concurrency ?? 8 }, async () => {
    while (next < users.length) {
      const user = users[next];
      next += 1;
      if (user) await one(user);
      done += 1;
      options.onProgress?.(done);
    }
  });
  await Promise.all(lanes);
  return submission;
}
