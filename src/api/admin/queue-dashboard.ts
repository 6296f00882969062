import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Job, type Queue } from 'bullmq';
import { Router, type Express, type Request, type RequestHandler, type Response } from 'express';
import { ulid } from 'ulid';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../logging/logger';
import type { Models } from '../../models/create-models';
import { operatorOf } from './admin-guard';

/** Where the dashboard is mounted. */
export const dashboardPath = '/admin/queues';

const queueDescriptions: Record<string, string> = {
  deactivations: 'One parent job per deactivation run; it completes the run after its steps',
  'deactivation-steps': 'One job per step of a run, chained in contract order',
  'bulk-deactivations': 'Bulk deactivations, paging through their frozen selection',
  sweeps: 'Scheduled inactivity sweeps, one scheduler per enabled policy',
  erasures: "Erasure of deleted users' personal data",
  webhooks: 'Webhook deliveries, one job per event and endpoint; retry failed ones here',
  maintenance: 'The reconciler and the expiry of idempotency records',
};

/** What the dashboard needs. */
export interface DashboardDeps {
  queues: readonly Queue[];
  models: Models;
  logger: Logger;
}

const pageSize = 100;

type QueuesByName = ReadonlyMap<string, Queue>;

/**
 * Records an operator's retry. Ids only: the queue, the job and the ids its data holds.
 */
async function auditRetry(models: Models, actorId: string, queue: Queue, job: Job): Promise<void> {
  const data = job.data as { orgId?: unknown; userId?: unknown; runId?: unknown };
  await models.auditEvents.insertMany([
    {
      _id: `retry-${ulid()}`,
      orgId: typeof data.orgId === 'string' ? data.orgId : 'system',
      type: 'job.retried',
      actorId,
      subjectId: typeof data.userId === 'string' ? data.userId : (job.id ?? 'unknown'),
      at: new Date(),
      data: {
        queue: queue.name,
        jobId: job.id,
        ...(typeof data.runId === 'string' ? { deactivationId: data.runId } : {}),
      },
    },
  ]);
}

/** Records an operator pausing or resuming a queue, which concerns every organization. */
async function auditQueueState(
  models: Models,
  actorId: string,
  queue: Queue,
  type: 'queue.paused' | 'queue.resumed',
): Promise<void> {
  await models.auditEvents.insertMany([
    {
      _id: `${type}-${ulid()}`,
      orgId: 'system',
      type,
      actorId,
      subjectId: queue.name,
      at: new Date(),
      data: { queue: queue.name },
    },
  ]);
}

/**
 * The dashboard's calls that change something and are allowed, answered here rather than by
 * bull-board so that each is audited: retries, of failed jobs only (a completed step's effects
 * are done, and the UI offers no retry for it either: `allowCompletedRetries: false`), and
 * pausing or resuming one queue.
 */
function allowedWrites(deps: DashboardDeps, byName: QueuesByName): Router {
  const router = Router();
  const queueOf = (req: Request): Queue => {
    const queue = byName.get(String(req.params.queueName));
    if (!queue) throw new AppError('not_found', 'No such queue');
    return queue;
  };
  const refuseCompleted = (): never => {
    throw new AppError(
      'forbidden',
      'Completed jobs are not retried: their effects are already done. Only failed jobs can be retried',
    );
  };

  router.put('/api/queues/:queueName/retry/:queueStatus', async (req: Request, res: Response) => {
    const queue = queueOf(req);
    if (req.params.queueStatus !== 'failed') refuseCompleted();
    const { actorId } = operatorOf(res);
    const retried = new Set<string>();
    // Retried jobs leave the failed set, so its head is the next page; a job that fails again
    // at once comes back to it, and is not retried twice by one click.
    for (;;) {
      const jobs = (await queue.getJobs(['failed'], 0, pageSize - 1)).filter(
        (job) => job.id !== undefined && !retried.has(job.id),
      );
      if (jobs.length === 0) break;
      for (const job of jobs) {
        await job.retry('failed');
        await auditRetry(deps.models, actorId, queue, job);
        retried.add(job.id ?? '');
      }
    }
    deps.logger.info(
      { queue: queue.name, retried: retried.size, actorId },
      'operator retried failed jobs',
    );
    res.status(200).json({ retried: retried.size, skipped: 0 });
  });

  router.put('/api/queues/:queueName/:jobId/retry', async (req: Request, res: Response) => {
    const queue = queueOf(req);
    const job = await Job.fromId(queue, String(req.params.jobId));
    if (!job) throw new AppError('not_found', 'No such job');
    const state = await job.getState();
    if (state === 'completed') refuseCompleted();
    if (state !== 'failed') {
      throw new AppError('forbidden', `Only failed jobs can be retried; this one is ${state}`);
    }
    const { actorId } = operatorOf(res);
    await job.retry('failed');
    await auditRetry(deps.models, actorId, queue, job);
    deps.logger.info({ queue: queue.name, jobId: job.id, actorId }, 'operator retried a job');
    res.status(204).end();
  });

  const queueState = (action: 'pause' | 'resume') => async (req: Request, res: Response) => {
    const queue = queueOf(req);
    const { actorId } = operatorOf(res);
    if (action === 'pause') await queue.pause();
    else await queue.resume();
    const type = action === 'pause' ? 'queue.paused' : 'queue.resumed';
    await auditQueueState(deps.models, actorId, queue, type);
    deps.logger.info(
      { queue: queue.name, actorId },
      `operator ${type.replace('queue.', '')} a queue`,
    );
    res.status(200).json({});
  };
  router.put('/api/queues/:queueName/pause', queueState('pause'));
  router.put('/api/queues/:queueName/resume', queueState('resume'));
  return router;
}

/**
 * bull-board's calls that only read, as patterns of the path below the dashboard; every one is a
 * GET. Its pages and static files (any GET outside `/api/`) are reads as well.
 */
const readCalls: readonly RegExp[] = [
  /^\/api\/redis\/stats$/,
  /^\/api\/queues$/,
  /^\/api\/job-schedulers$/,
  /^\/api\/queues\/[^/]+\/(metrics|default-job-options|workers|rate-limit|job-data-schema)$/,
  /^\/api\/queues\/[^/]+\/[^/]+\/(logs|flow)$/,
  /^\/api\/queues\/[^/]+\/[^/]+$/,
];

/**
 * The allow-list: past the calls {@link allowedWrites} answers, only reads reach bull-board.
 * Everything else that would create, run, reschedule, promote, edit or delete work is refused
 * (adding jobs, editing their data, promoting, cleaning, emptying, obliterating, removing jobs,
 * running, rescheduling or removing job schedulers, changing concurrency or rate limits, and
 * whatever a later bull-board adds): jobs come from the API and the schedulers from the sweep
 * policies in MongoDB, which the dashboard must not contradict.
 */
const onlyReads: RequestHandler = (req, _res, next) => {
  const read = req.method === 'GET' || req.method === 'HEAD';
  const path = req.path;
  if (read && (!path.startsWith('/api/') || readCalls.some((pattern) => pattern.test(path)))) {
    next();
    return;
  }
  next(
    new AppError(
      'forbidden',
      'The dashboard only reads, retries failed jobs and pauses or resumes a queue: jobs come from the API and schedules from the sweep policies',
    ),
  );
};

interface BoardJob {
  id?: string;
  isFailed?: boolean;
}

/**
 * bull-board offers Retry on any job it calls `isFailed`, which it reads from a leftover
 * `failedReason`: a step that failed, was retried and then completed would still show the
 * button. This corrects the flag from each job's real state before the UI sees it.
 */
function completedJobsAreNotFailed(byName: QueuesByName): Router {
  const router = Router();
  const stillFailed = async (queue: Queue | undefined, job: BoardJob): Promise<boolean> => {
    if (job.isFailed !== true || queue === undefined || job.id === undefined) return false;
    return (await queue.getJobState(job.id)) === 'failed';
  };
  const rewrite = (res: Response, fix: (body: Record<string, unknown>) => Promise<void>): void => {
    const send = res.json.bind(res);
    res.json = (body: unknown) => {
      fix(body as Record<string, unknown>).then(
        () => send(body),
        () => send(body),
      );
      return res;
    };
  };

  router.get('/api/queues', (_req, res, next) => {
    rewrite(res, async (body) => {
      const queues = (body.queues ?? []) as { name: string; jobs?: BoardJob[] }[];
      for (const board of queues) {
        for (const job of board.jobs ?? []) {
          job.isFailed = await stillFailed(byName.get(board.name), job);
        }
      }
    });
    next();
  });
  router.get('/api/queues/:queueName/:jobId', (req, res, next) => {
    rewrite(res, (body) => {
      const job = body.job as BoardJob | undefined;
      if (job) job.isFailed = job.isFailed === true && body.status === 'failed';
      return Promise.resolve();
    });
    next();
  });
  return router;
}

/**
 * The bull-board dashboard over every queue: reads, plus audited retries of failed jobs and
 * pausing or resuming a queue; mount under {@link dashboardPath}.
 */
export function queueDashboard(deps: DashboardDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(dashboardPath);
  createBullBoard({
    queues: deps.queues.map((queue) => {
      // bull-board's base adapter reads `allowCompletedRetries`, though the BullMQ adapter's
      // constructor type omits it.
      const options = {
        allowCompletedRetries: false,
        description: queueDescriptions[queue.name] ?? '',
      };
      return new BullMQAdapter(queue, options);
    }),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'offboard queues' } },
  });
  const byName: QueuesByName = new Map(deps.queues.map((queue) => [queue.name, queue]));
  // bull-board serves from an Express app of its own, which would announce itself.
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  const router = Router();
  router.use(allowedWrites(deps, byName));
  router.use(onlyReads);
  router.use(completedJobsAreNotFailed(byName));
  router.use(board);
  return router;
}
