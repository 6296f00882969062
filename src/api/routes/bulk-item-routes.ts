import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import type { Models } from '../../models/create-models';
import { hasScope } from '../authenticate';
import { decodeCursor, encodeCursor } from '../cursor';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { bulkParamsSchema } from '../schemas/bulk-schemas';
import { adminOnlyTextSchema, commonErrorResponses, limitSchema } from '../schemas/common-schemas';

const itemStatuses = ['pending', 'enqueued', 'skipped', 'planned'] as const;

const bulkItemQuerySchema = z.strictObject({
  status: z.enum(itemStatuses).optional(),
  limit: limitSchema,
  cursor: z.string().max(100).optional(),
});

const bulkItemListSchema = z.object({
  items: z.array(
    z.object({
      userId: z.string(),
      status: z.enum(itemStatuses),
      reason: z.string().nullable().meta({ description: 'Why a skipped user was skipped' }),
      runId: z.string().nullable(),
      email: adminOnlyTextSchema(),
      name: adminOnlyTextSchema(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

/**
 * `GET /v1/orgs/:orgId/bulk-deactivations/:id/items`: who a bulk selected, in selection order,
 * and what became of each (planned by a dry run, enqueued, or skipped with the reason), so a
 * person can review a selection before confirming it.
 */
export function bulkItemRoutes(deps: { models: Models }): RouteDefinition[] {
  const { models } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/bulk-deactivations/:id/items',
      summary: 'The users a bulk selected, each planned, enqueued or skipped with its reason',
      scope: 'read',
      params: bulkParamsSchema,
      query: bulkItemQuerySchema,
      responses: {
        200: { description: 'A page of the selection', schema: bulkItemListSchema },
        ...commonErrorResponses,
      },
      handler: async ({ params, query, apiKey }) => {
        const bulk = await models.bulkDeactivations.exists({ _id: params.id, orgId: params.orgId });
        if (!bulk) throw new AppError('not_found', `Unknown bulk deactivation ${params.id}`);
        const filter: Record<string, unknown> = { bulkId: params.id };
        if (query.status !== undefined) filter.status = query.status;
        if (query.cursor !== undefined) {
          const [seq] = decodeCursor(query.cursor, z.tuple([z.number().int().min(0)]));
          filter.seq = { $gt: seq };
        }
        const found = await models.bulkItems
          .find(filter)
          .sort({ seq: 1 })
          .limit(query.limit + 1)
          .lean();
        const page = found.slice(0, query.limit);
        const personal = apiKey !== null && hasScope(apiKey, 'admin');
        const users = personal
          ? await models.users
              .find(
                { _id: { $in: page.map((item) => item.userId) }, orgId: params.orgId },
                { email: 1, firstName: 1, lastName: 1 },
              )
              .lean()
          : [];
        const byId = new Map(users.map((user) => [user._id, user]));
        const last = page.at(-1);
        return {
          status: 200,
          body: {
            items: page.map((item) => {
              const user = byId.get(item.userId);
              const name = [user?.firstName, user?.lastName].filter(Boolean).join(' ');
              return {
                userId: item.userId,
                status: item.status,
                reason: item.reason,
                // A pending item's id is the run it will create, not one that exists yet.
                runId: item.status === 'enqueued' ? item.runId : null,
                ...(personal
                  ? { email: user?.email ?? null, name: name === '' ? null : name }
                  : {}),
              };
            }),
            nextCursor: found.length > query.limit && last ? encodeCursor([last.seq]) : null,
          },
        };
      },
    }),
  ];
}
