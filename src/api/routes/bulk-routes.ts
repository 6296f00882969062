import type { Queue } from 'bullmq';
import { acceptBulk } from '../../bulk/accept-bulk';
import type { SecurityConfig } from '../../config/config';
import { loadBulkView } from '../../bulk/bulk-view';
import { AppError } from '../../errors/app-error';
import { createRedisLock } from '../../infra/redis-lock';
import type { Models } from '../../models/create-models';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { bulkBodySchema, bulkParamsSchema, bulkSchema } from '../schemas/bulk-schemas';
import { commonErrorResponses, orgParamsSchema } from '../schemas/common-schemas';
import type { RedisClient } from '../../infra/redis-connection';

/** `/v1/orgs/:orgId/bulk-deactivations`: accept and follow bulk deactivations. */
export function bulkRoutes(deps: {
  models: Models;
  bulkQueue: Queue;
  redis: RedisClient;
  queuePrefix: string;
  security: Pick<SecurityConfig, 'maxPendingBulksPerOrg'>;
}): RouteDefinition[] {
  const { models } = deps;
  const admission = {
    models,
    bulkQueue: deps.bulkQueue,
    locks: createRedisLock(deps.redis, { prefix: deps.queuePrefix }),
    maxPendingPerOrg: deps.security.maxPendingBulksPerOrg,
  };
  return [
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/bulk-deactivations',
      summary:
        'Deactivate many users (explicit ids, at most 10,000, or an activity filter); the selection is frozen now',
      scope: 'write',
      params: orgParamsSchema,
      body: bulkBodySchema,
      idempotent: true,
      responses: {
        202: {
          description: 'Accepted; Location names it',
          schema: bulkSchema,
          headers: {
            Location: { description: 'The bulk deactivation', type: 'string', required: true },
          },
        },
        ...commonErrorResponses,
      },
      handler: async ({ params, body }) => {
        const bulk = await acceptBulk(admission, { ...body, orgId: params.orgId });
        return {
          status: 202,
          body: await loadBulkView(models, bulk),
          headers: { Location: `/v1/orgs/${params.orgId}/bulk-deactivations/${bulk._id}` },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/bulk-deactivations/:id',
      summary: 'Status, matched, enqueued, runs completed so far, skipped with reasons',
      scope: 'read',
      params: bulkParamsSchema,
      responses: {
        200: { description: 'The bulk deactivation', schema: bulkSchema },
        ...commonErrorResponses,
      },
      handler: async ({ params }) => {
        const bulk = await models.bulkDeactivations
          .findOne({ _id: params.id, orgId: params.orgId })
          .lean();
        if (!bulk) throw new AppError('not_found', `Unknown bulk deactivation ${params.id}`);
        return { status: 200, body: await loadBulkView(models, bulk) };
      },
    }),
  ];
}
