import { checkPurchase } from '../../lifecycle/check-purchase';
import type { Models } from '../../models/create-models';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { commonErrorResponses, orgParamsSchema } from '../schemas/common-schemas';
import { purchaseCheckBodySchema, purchaseCheckResultSchema } from '../schemas/lifecycle-schemas';

/** `/v1/orgs/:orgId/purchases/check`: the purchase-time blocklist check. */
export function purchaseRoutes(deps: { models: Models }): RouteDefinition[] {
  const { models } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/purchases/check',
      summary:
        'May this email buy? Refused when blocklisted; reactivates an inactive user who allowed it',
      scope: 'purchases',
      params: orgParamsSchema,
      body: purchaseCheckBodySchema,
      responses: {
        200: {
          description: 'The answer; a refusal is a 200 with allowed: false',
          schema: purchaseCheckResultSchema,
        },
        ...commonErrorResponses,
      },
      handler: async ({ params, body }) => ({
        status: 200,
        body: await checkPurchase(models, { orgId: params.orgId, email: body.email }, new Date()),
      }),
    }),
  ];
}
