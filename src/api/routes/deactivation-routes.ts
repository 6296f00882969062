import type { FlowProducer } from 'bullmq';
import { assessDeactivation } from '../../deactivation/assess-deactivation';
import { getRun, listRuns } from '../../deactivation/list-runs';
import { requestDeactivation } from '../../deactivation/request-deactivation';
import { toRunView } from '../../deactivation/run-view';
import { createRedisLock, type KeyedLock } from '../../infra/redis-lock';
import type { Models } from '../../models/create-models';
import { pagedListRoute } from '../paged-list-route';
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
import type { RedisClient } from '../../infra/redis-connection';

const conflict = {
  description:
    'State conflict: already_inactive, team_leader (details.teamIds), deactivation_in_progress, last_admin, idempotency_in_flight',
  schema: errorResponseSchema,
};

interface RoutesDeps {
  models: Models;
  flows: FlowProducer;
  locks: KeyedLock;
}

/** `POST`: accept a deactivation, or preview its plan (`?dryRun=true`). */
function requestRoute({ models, flows, locks }: RoutesDeps): RouteDefinition {
  return defineRoute({
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
        const { plan } = await assessDeactivation(models, request, new Date(), { counts: true });
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
  });
}

/** `/v1/orgs/:orgId/deactivations`: accept, preview, read and list runs. */
export function deactivationRoutes(deps: {
  models: Models;
  flows: FlowProducer;
  redis: RedisClient;
}): RouteDefinition[] {
  const { models, flows } = deps;
  // Under the queue prefix, like the workers' locks.
  const locks = createRedisLock(deps.redis, { prefix: flows.opts.prefix ?? 'bull', waitMs: 5_000 });
  return [
    requestRoute({ models, flows, locks }),
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/deactivations/:id',
      summary: "A run with every step's status, attempts, result and error",
      scope: 'read',
      params: runParamsSchema,
      responses: { 200: { description: 'The run', schema: runSchema }, ...commonErrorResponses },
      handler: async ({ params }) => ({
        status: 200,
        body: toRunView(await getRun(models, params.orgId, params.id)),
      }),
    }),
    pagedListRoute({
      models,
      path: '/v1/orgs/:orgId/deactivations',
      summary: 'Runs, newest first; filter by status and userId; cursor pagination',
      query: runListQuerySchema,
      page: { description: 'A page of runs', schema: runListSchema },
      list: (orgId, { status, userId, limit }, after) =>
        listRuns(models, { orgId, status, userId, limit, after }),
      view: toRunView,
    }),
  ];
}
