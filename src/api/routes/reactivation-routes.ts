import { reactivateUser } from '../../lifecycle/reactivate-user';
import type { Models } from '../../models/create-models';
import { defineRoute, type RouteDefinition } from '../route-definition';
import {
  commonErrorResponses,
  errorResponseSchema,
  orgParamsSchema,
} from '../schemas/common-schemas';
import { reactivationBodySchema, userViewSchema } from '../schemas/lifecycle-schemas';

/** `/v1/orgs/:orgId/reactivations`: bring an inactive user back. */
export function reactivationRoutes(deps: { models: Models }): RouteDefinition[] {
  const { models } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/reactivations',
      summary:
        'Reactivate an inactive user: status active, blocklist entry lifted; nothing else reverted',
      scope: 'write',
      params: orgParamsSchema,
      body: reactivationBodySchema,
      idempotent: true,
      responses: {
        200: { description: 'The user, reactivated', schema: userViewSchema },
        ...commonErrorResponses,
        409: {
          description:
            'State conflict: already_active, deactivation_in_progress (details.deactivationId), user_deleted, idempotency_in_flight',
          schema: errorResponseSchema,
        },
      },
      handler: async ({ params, body }) => {
        const user = await reactivateUser(models, { ...body, orgId: params.orgId }, new Date());
        return { status: 200, body: user };
      },
    }),
  ];
}
