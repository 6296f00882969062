import type { Models } from '../../models/create-models';
import { listUsers } from '../../users/list-users';
import { hasScope } from '../authenticate';
import { decodePageCursor, encodePageCursor } from '../cursor';
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
        const page = await listUsers(
          deps.models,
          {
            orgId: params.orgId,
            activity: query.activity,
            inactiveDays: query.inactiveDays,
            status: query.status,
            kind: query.kind,
            limit: query.limit,
            after: decodePageCursor(query.cursor, { nullableTime: true }),
            includeEmail: apiKey !== null && hasScope(apiKey, 'admin'),
          },
          new Date(),
        );
        return {
          status: 200,
          body: {
            items: page.items,
            nextCursor: encodePageCursor(page.next),
          },
        };
      },
    }),
  ];
}
