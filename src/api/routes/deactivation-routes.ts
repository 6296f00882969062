import type { FlowProducer } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueryFilter } from 'mongoose';
import { assessDeactivation } from '../../deactivation/assess-deactivation';
import { requestDeactivation } from '../../deactivation/request-deactivation';
import { toRunView } from '../../deactivation/run-view';
import { AppError } from '../../errors/app-error';
import { createRedisLock } from '../../infra/redis-lock';
import type { Models } from '../../models/create-models';
import type { Deactivation } from '../../models/deactivation.model';
import { z } from 'zod';
import { cursorId, cursorTime, decodeCursor, encodeCursor } from '../cursor';
import { requireOrganization } from '../require-organization';
import { defineRoute, type RouteDefinition } from '../route-definition';
import {
  commonErrorResponses,
  errorResponseSchema,
  orgParamsSchema,
} from '../schemas/common-schemas';
import {
  deactivationBodySchema,
  deactivationQuerySchema,
  dryRunSchema,
  runListQuerySchema,
  runListSchema,
  runParamsSchema,
  runSchema,
} from '../schemas/deactivation-schemas';

const conflict = {
  description:
    'State conflict: already_inactive, team_leader (details.teamIds), deactivation_in_progress, last_admin, idempotency_in_flight',
  schema: errorResponseSchema,
};

/** `/v1/orgs/:orgId/deactivations`: accept, preview, read and list runs. */
export function deactivationRoutes(deps: {
  models: Models;
  flows: FlowProducer;
  redis: Redis;
}): RouteDefinition[] {
  const { models, flows } = deps;
  // Under the queue prefix, like the workers' locks.
  const locks = createRedisLock(deps.redis, { prefix: flows.opts.prefix ?? 'bull', waitMs: 5_000 });
  return [
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/deactivations',
      summary: 'Deactivate a user (202 with the run), or preview the plan with ?dryRun=true (200)',
      scope: 'write',
      params: orgParamsSchema,
      query: deactivationQuerySchema,
      body: deactivationBodySchema,
      idempotent: true,
      responses: {
        200: { description: 'Dry run: the plan, nothing changed', schema: dryRunSchema },
        202: {
          description: 'Accepted: the run; Location names it',
          schema: runSchema,
          headers: { Location: { description: 'The run', type: 'string', required: true } },
        },
        ...commonErrorResponses,
        409: conflict,
      },
      handler: async ({ params, query, body, req, res }) => {
        const request = { ...body, orgId: params.orgId, source: 'api' as const };
        if (query.dryRun) {
          const { plan } = await assessDeactivation(models, request, new Date());
          return { status: 200, body: { dryRun: true, userId: body.userId, plan } };
        }
        const requestId = typeof req.id === 'string' ? req.id : undefined;
        const run = await requestDeactivation({ models, flows, locks }, request, { requestId });
        res.locals.runId = run._id;
        return {
          status: 202,
          body: toRunView(run),
          headers: { Location: `/v1/orgs/${params.orgId}/deactivations/${run._id}` },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/deactivations/:id',
      summary: "A run with every step's status, attempts, result and error",
      scope: 'read',
      params: runParamsSchema,
      responses: { 200: { description: 'The run', schema: runSchema }, ...commonErrorResponses },
      handler: async ({ params }) => {
        const run = await models.deactivations
          .findOne({ _id: params.id, orgId: params.orgId })
          .lean();
        if (!run) throw new AppError('not_found', `Unknown deactivation ${params.id}`);
        return { status: 200, body: toRunView(run) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/deactivations',
      summary: 'Runs, newest first; filter by status and userId; cursor pagination',
      scope: 'read',
      params: orgParamsSchema,
      query: runListQuerySchema,
      responses: {
        200: { description: 'A page of runs', schema: runListSchema },
        ...commonErrorResponses,
      },
      handler: async ({ params, query }) => {
        await requireOrganization(models, params.orgId);
        const filter: QueryFilter<Deactivation> = { orgId: params.orgId };
        if (query.status) filter.status = query.status;
        if (query.userId) filter.userId = query.userId;
        if (query.cursor !== undefined) {
          const [createdAt, id] = decodeCursor(query.cursor, z.tuple([cursorTime, cursorId]));
          const at = new Date(createdAt);
          filter.$or = [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: id } }];
        }
        const runs = await models.deactivations
          .find(filter)
          .sort({ createdAt: -1, _id: -1 })
          .limit(query.limit + 1)
          .lean();
        const page = runs.slice(0, query.limit);
        const last = page.at(-1);
        return {
          status: 200,
          body: {
            items: page.map(toRunView),
            nextCursor:
              runs.length > query.limit && last
                ? encodeCursor([last.createdAt.getTime(), last._id])
                : null,
          },
        };
      },
    }),
  ];
}
