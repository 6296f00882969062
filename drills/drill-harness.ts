import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import { createApiKey } from '../src/auth/api-key-repository';
import { hashEmail } from '../src/domain/email';
import { connectMongo } from '../src/infra/mongo-connection';
import { createRedisConnection } from '../src/infra/redis-connection';
import { createModels, ensureIndexes, type Models } from '../src/models/create-models';
import { queueNames } from '../src/queues/queue-names';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../test/support/factories';
import { killService, startWorkerProcess } from '../test/support/e2e-fixtures';
import { freePort } from '../test/support/free-port';
import { startServiceProcess, type ServiceProcess } from '../test/support/service-process';
import { effectsOf, unchanged, type EffectDocs, type EffectSnapshot } from './effect-watch';

/** Operator credentials the drills' processes are started with. */
export const drillOperator = { username: 'drill', password: 'drill-password' };

/** One departing user of a drill and what they own. */
export interface DrillUser {
  userId: string;
  email: string;
}

/** A drill's own organization in its own database on a store. */
export interface DrillStore {
  mongo: Connection;
  models: Models;
  dbName: string;
  orgId: string;
  actorId: string;
  leaderId: string;
  apiKey: string;
  users: DrillUser[];
  close: () => Promise<void>;
}

const tag = (): string => randomBytes(3).toString('hex');
const teamSize = 5;

/**
 * Seeds an organization with `runs` departing members, each with 3 tokens, 1 subscription,
 * 2 open opportunities, in teams of five led by the leader (so every step has work).
 * `brokenEvery` leaves every n-th user without an email: their blocklist step fails for good.
 */
export async function seedDrillStore(
  mongoUrl: string,
  runs: number,
  options: { brokenEvery?: number } = {},
): Promise<DrillStore> {
  const dbName = `drill_${tag()}`;
  const mongo = await connectMongo(mongoUrl, { dbName });
  const models = createModels(mongo);
  await ensureIndexes(models);
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  const secondAdmin = userFixture(org._id, { role: 'admin' });
  const leader = userFixture(org._id, { role: 'manager' });
  await insertFixtures(models, { organizations: [org], users: [actor, secondAdmin, leader] });
  const users: DrillUser[] = [];
  for (let start = 0; start < runs; start += 200) {
    const batch = Array.from({ length: Math.min(200, runs - start) }, (_, offset) => {
      const index = start + offset;
      const broken = options.brokenEvery !== undefined && index % options.brokenEvery === 0;
      const user = userFixture(org._id);
      return { user, broken, email: user.email ?? '' };
    });
    await insertFixtures(models, {
      users: batch.map(({ user, broken }) => (broken ? { ...user, email: null } : user)),
      // Teams of five: teammates leave at the same time, so their runs write one team at once.
      teams: Array.from({ length: Math.ceil(batch.length / teamSize) }, (_, team) =>
        teamFixture(org._id, {
          leaderId: leader._id,
          memberIds: batch
            .slice(team * teamSize, (team + 1) * teamSize)
            .map(({ user }) => user._id),
        }),
      ),
      tokens: batch.flatMap(({ user }) => [0, 1, 2].map(() => tokenFixture(org._id, user._id))),
      subscriptions: batch.map(({ user }) => subscriptionFixture(org._id, user._id)),
      opportunities: batch.flatMap(({ user }) =>
        [0, 1].map(() => opportunityFixture(org._id, user._id)),
      ),
    });
    users.push(...batch.map(({ user, email }) => ({ userId: user._id, email })));
  }
  const { key } = await createApiKey(models, { name: 'drill', scopes: ['*'], orgIds: [org._id] });
  return {
    mongo,
    models,
    dbName,
    orgId: org._id,
    actorId: actor._id,
    leaderId: leader._id,
    apiKey: key,
    users,
    close: async () => {
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}

/** The environment of a drill's processes: fast stall detection and reconciliation. */
export function drillEnv(
  mongoUrl: string,
  dbName: string,
  redisUrl: string,
): Record<string, string> {
  const url = new URL(mongoUrl);
  url.pathname = `/${dbName}`;
  return {
    MONGO_URL: url.toString(),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `drill${tag()}`,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: '8',
    WORKER_LOCK_DURATION_MS: '5000',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_GRACE_MS: '3000',
    // Quicker than the minute of production, so a drill's FLUSHALL recovers within seconds.
    SCHEDULER_CHECK_INTERVAL_MS: '5000',
    SHUTDOWN_TIMEOUT_MS: '15000',
    DASHBOARD_USERNAME: drillOperator.username,
    DASHBOARD_PASSWORD: drillOperator.password,
    // The driver's own structured logs (topology, server selection, connections), when asked
    // for: the processes get no other environment of the drill's.
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] =>
          entry[0].startsWith('MONGODB_LOG_') && entry[1] !== undefined,
      ),
    ),
  };
}

/** The API process and the worker processes of a drill. */
export interface DrillProcesses {
  api: ServiceProcess;
  workers: ServiceProcess[];
  /** Worker processes started to replace ones that died. */
  restarts: () => number;
  close: () => Promise<void>;
}

/**
 * Waits until `count` worker processes serve the steps queue (BullMQ names each worker's
 * blocking connection after its queue): a process is up well before that (loading the code,
 * checking the schedulers), and a fault meant for running workers must not land before.
 */
async function waitForWorkers(
  env: Record<string, string>,
  workers: ServiceProcess[],
  count: number,
): Promise<void> {
  // The service's own factory: a `redis+cluster://` URL (the cluster drill) needs a Cluster client.
  const connection = createRedisConnection(env.REDIS_URL ?? '', 'worker');
  const steps = new Queue(queueNames.steps, { connection, prefix: env.QUEUE_PREFIX ?? '' });
  try {
    const deadline = Date.now() + 60_000;
    while ((await steps.getWorkersCount()) < count) {
      if (Date.now() > deadline) {
        const last = workers.at(-1)?.output().slice(-2_000) ?? '';
        throw new Error(`the workers did not start within 60 s; the last one wrote:\n${last}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await steps.close();
    connection.disconnect();
  }
}

const alive = (service: ServiceProcess): boolean =>
  service.child.exitCode === null && service.child.signalCode === null;

/**
 * Starts the API and `workerCount` workers, and supervises the workers the way a process
 * manager would: one that dies (killed, or exiting because a dependency was away at start-up)
 * is replaced within half a second.
 */
export async function startDrillProcesses(
  apiEnv: Record<string, string>,
  workerEnv: Record<string, string>,
  workerCount: number,
): Promise<DrillProcesses> {
  const api = await startServiceProcess('api-main', apiEnv, await freePort());
  const workers: ServiceProcess[] = [];
  let restarted = 0;
  for (let index = 0; index < workerCount; index += 1) {
    workers.push(await startWorkerProcess(workerEnv));
  }
  let supervising = true as boolean;
  const supervisor = (async () => {
    while (supervising) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const missing = workerCount - workers.filter(alive).length;
      for (let index = 0; index < missing; index += 1) {
        workers.push(await startWorkerProcess(workerEnv));
        restarted += 1;
      }
    }
  })();
  // With the supervisor on: one that exits at start-up is replaced, as later on.
  await waitForWorkers(workerEnv, workers, workerCount).catch(async (error: unknown) => {
    supervising = false;
    await supervisor;
    for (const service of [api, ...workers]) await killService(service);
    throw error;
  });
  return {
    api,
    workers,
    restarts: () => restarted,
    close: async () => {
      supervising = false;
      await supervisor;
      for (const service of [api, ...workers]) await killService(service);
    },
  };
}

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

/** Waits until every run is completed or `timeoutMs` passes; returns how many completed. */
export async function waitForRuns(
  store: DrillStore,
  runCount: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let completed = 0;
    try {
      completed = await store.models.deactivations.countDocuments({ status: 'completed' });
    } catch {
      // the store may be the fault under drill
    }
    if (completed >= runCount || Date.now() > deadline) return completed;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Runs accepted and not finished (pending or running in the store) right now; 0 when the store
 * does not answer. A fault counts only when it lands while this is above 0.
 */
export async function runsInFlight(store: DrillStore): Promise<number> {
  try {
    const [pending, running] = await Promise.all(
      (['pending', 'running'] as const).map((status) =>
        store.models.deactivations.countDocuments({ orgId: store.orgId, status }),
      ),
    );
    return (pending ?? 0) + (running ?? 0);
  } catch {
    return 0;
  }
}

/** What the store says after a drill. */
export interface Verdict {
  completed: number;
  /** Runs not completed, or with an effect missing. */
  lost: number;
  /**
   * Runs with an effect applied again: a first write rewritten since its step first completed
   * (`revokedAt`, `canceledAt`, a transfer entry, a team member back, a re-created blocklist
   * entry), a second transfer entry, or a second live run for the user.
   */
  duplicated: number;
  problems: string[];
}

/**
 * Checks the store, not the logs: for every run, the user's tokens all revoked by it, every
 * subscription canceled by it, every opportunity moved to the leader with exactly one
 * `transfers` entry for it, the user out of their team, a blocklist entry, an audit event of
 * each type, and the run `completed`; and every effect as its step first wrote it (`first`,
 * recorded by the drill's {@link watchEffects} while it ran).
 */
export async function verifyStore(
  store: DrillStore,
  submission: Submission,
  first: Map<string, EffectSnapshot>,
): Promise<Verdict> {
  const { models, orgId } = store;
  const verdict: Verdict = { completed: 0, lost: 0, duplicated: 0, problems: [] };
  const [runs, tokens, subscriptions, opportunities, teams, blocklist, events] = await Promise.all([
    models.deactivations.find({ orgId }).lean(),
    models.tokens.find({ orgId }).lean(),
    models.subscriptions.find({ orgId }).lean(),
    models.opportunities.find({ orgId }).lean(),
    models.teams.find({ orgId }).lean(),
    models.blocklist.find({ orgId }).lean(),
    models.auditEvents.find({ orgId }).lean(),
  ]);
  const group = <T>(docs: T[], key: (doc: T) => string[]): Map<string, T[]> => {
    const map = new Map<string, T[]>();
    for (const doc of docs) {
      for (const id of key(doc)) map.set(id, [...(map.get(id) ?? []), doc]);
    }
    return map;
  };
  const runById = new Map(runs.map((run) => [run._id, run]));
  const tokensOf = group(tokens, (doc) => [doc.userId]);
  const subscriptionsOf = group(subscriptions, (doc) => [doc.userId]);
  const movedBy = group(opportunities, (doc) => doc.transferDeactivationIds ?? []);
  const teamById = new Map(teams.map((team) => [team._id, team]));
  const blocklistByHash = new Map(blocklist.map((entry) => [entry.emailHash, entry]));
  const eventTypes = new Set<string>();
  for (const event of events) {
    const runId = (event.data as { deactivationId?: unknown }).deactivationId;
    if (typeof runId === 'string') eventTypes.add(`${runId} ${event.type}`);
  }
  const firstByRun = group([...first.values()], (snapshot) => [snapshot.runId]);
  const runsPerUser = group(runs, (doc) => [doc.userId]);

  for (const user of store.users) {
    const runId = submission.runIds.get(user.userId);
    const run = runId === undefined ? undefined : runById.get(runId);
    const missing: string[] = [];
    const again: string[] = [];
    if (!run) missing.push('no run');
    else if (run.status !== 'completed') {
      const errors = run.steps.flatMap((step) =>
        step.error ? [`${step.name} (${step.attempts} attempts): ${step.error}`] : [],
      );
      // Where it stands: each step's status and attempts, e.g. `completed/1 running/3 pending/0`.
      const where = run.steps.map((step) => `${step.status}/${step.attempts}`).join(' ');
      missing.push(
        `run ${run.status} (${where})${errors.length > 0 ? ` [${errors.join('; ')}]` : ''}`,
      );
    }
    // An abandoned run (its request stopped before switching the user) changed nothing.
    if ((runsPerUser.get(user.userId) ?? []).filter((o) => o.status !== 'failed').length > 1) {
      again.push('more than one run');
    }
    if (run) {
      const own = tokensOf.get(user.userId) ?? [];
      if (
        own.length !== 3 ||
        own.some((t) => t.revokedByDeactivationId !== run._id || !t.revokedAt)
      ) {
        missing.push('tokens not all revoked by the run');
      }
      const subs = subscriptionsOf.get(user.userId) ?? [];
      if (
        subs.length !== 1 ||
        subs.some((s) => s.status !== 'canceled' || s.cancelDeactivationId !== run._id)
      ) {
        missing.push('subscription not canceled by the run');
      }
      const moved = movedBy.get(run._id) ?? [];
      if (moved.length < 2) missing.push(`opportunities transferred: ${moved.length} of 2`);
      const entries = moved.map((o) => o.transfers.filter((e) => e.deactivationId === run._id));
      if (moved.length > 2 || entries.some((list) => list.length > 1)) {
        again.push('an opportunity transferred twice');
      }
      if (teams.some((team) => team.memberIds.includes(user.userId)))
        missing.push('still in a team');
      const entry = blocklistByHash.get(hashEmail(user.email));
      if (!entry) missing.push('no blocklist entry');
      for (const type of [
        'user.deactivated',
        'deactivation.completed',
        'opportunities.transferred',
      ]) {
        if (!eventTypes.has(`${run._id} ${type}`)) missing.push(`no ${type} event`);
      }
      // Every effect as its step first wrote it.
      const docs: EffectDocs = {
        tokens: own,
        subscriptions: subs,
        opportunities: moved,
        teams: run.plan.teamIds.map((id) => teamById.get(id) ?? null),
        blocklist: entry ?? null,
      };
      const recorded = firstByRun.get(run._id) ?? [];
      const steps = new Set(recorded.map((snapshot) => snapshot.step));
      const now = new Map(
        [...steps]
          .flatMap((step) => effectsOf(run, step, docs))
          .map((effect) => [`${effect.step} ${effect.what}`, effect]),
      );
      const changed = recorded.filter(
        (snapshot) => !unchanged(snapshot, now.get(`${snapshot.step} ${snapshot.what}`)),
      );
      const added = [...now.keys()].filter(
        (key) => !recorded.some((snapshot) => `${snapshot.step} ${snapshot.what}` === key),
      );
      if (changed.length > 0 || added.length > 0) {
        again.push(
          `rewritten after its step completed: ${[
            ...changed.map(
              (snapshot) =>
                `${snapshot.what} (${snapshot.value} -> ${now.get(`${snapshot.step} ${snapshot.what}`)?.value ?? 'gone'})`,
            ),
            ...added.map((key) => `${key} (new)`),
          ].join(', ')}`,
        );
      }
    }
    if (run?.status === 'completed') verdict.completed += 1;
    if (missing.length > 0) verdict.lost += 1;
    if (again.length > 0) verdict.duplicated += 1;
    const problems = [...missing, ...again];
    if (problems.length > 0 && verdict.problems.length < 10) {
      verdict.problems.push(`${user.userId}: ${problems.join(', ')}`);
    }
  }
  return verdict;
}
