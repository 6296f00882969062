import type { Models } from '../../models/create-models';
import { listUsers } from '../../users/list-users';
import { hasScope } from '../authenticate';
import { z } from 'zod';
import { cursorId, cursorTime, decodeCursor, encodeCursor } from '../cursor';
import { requireOrganization } from '../require-organization';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { userListQuerySchema, userListSchema } from '../schemas/bulk-schemas';
import { commonErrorResponses, orgParamsSchema } from '../schemas/common-schemas';

/** `GET /v1/orgs/:orgId/users`: the activity listing. */
export function userRoutes(deps: { models: Models }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/users',
      summary: 'Users by last login (oldest first): filter by activity; emails only for admin keys',
      scope: 'read',
      params: orgParamsSchema,
      query: userListQuerySchema,
      responses: {
        200: { description: 'A page of users', schema: userListSchema },
        ...commonErrorResponses,
      },
      handler: async ({ params, query, apiKey }) => {
        await requireOrganization(deps.models, params.orgId);
        let after: { lastLoginAt: number | null; id: string } | undefined;
        if (query.cursor !== undefined) {
          const [lastLoginAt, id] = decodeCursor(
            query.cursor,
            z.tuple([cursorTime.nullable(), cursorId]),
          );
          after = { lastLoginAt, id };
        }
        const page = await listUsers(
          deps.models,
          {
            orgId: params.orgId,
            activity: query.activity,
            inactiveDays: query.inactiveDays,
            status: query.status,
            kind: query.kind,
            limit: query.limit,
            after,
            includeEmail: apiKey !== null && hasScope(apiKey, 'admin'),
          },
          new Date(),
        );
        return {
          status: 200,
          body: {
            items: page.items,
            nextCursor: page.next ? encodeCursor([page.next.lastLoginAt, page.next.id]) : null,
          },
        };
      },
    }),
  ];
}
