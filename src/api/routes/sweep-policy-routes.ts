import type { Models } from '../../models/create-models';
import { AppError } from '../../errors/app-error';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { sweepPolicySchema } from '../schemas/bulk-schemas';
import { commonErrorResponses, orgParamsSchema } from '../schemas/common-schemas';

/** `GET /v1/orgs/:orgId/sweep-policy`: the stored policy, so a form can show it before a PUT. */
export function sweepPolicyRoutes(deps: { models: Models }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/sweep-policy',
      summary: 'The sweep policy as stored, or null when none was set',
      scope: 'read',
      params: orgParamsSchema,
      responses: {
        200: { description: 'The stored policy, or null', schema: sweepPolicySchema.nullable() },
        ...commonErrorResponses,
      },
      handler: async ({ params }) => {
        const org = await deps.models.organizations
          .findOne({ _id: params.orgId }, { sweepPolicy: 1 })
          .lean();
        if (!org) throw new AppError('not_found', `Unknown organization ${params.orgId}`);
        return { status: 200, body: org.sweepPolicy ?? null };
      },
    }),
  ];
}
