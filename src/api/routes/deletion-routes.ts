import type { FlowProducer } from 'bullmq';
import { requestErasure } from '../../lifecycle/request-erasure';
import type { Models } from '../../models/create-models';
import { defineRoute, type RouteDefinition } from '../route-definition';
import {
  commonErrorResponses,
  errorResponseSchema,
  orgParamsSchema,
} from '../schemas/common-schemas';
import { deletionAcceptedSchema, deletionBodySchema } from '../schemas/lifecycle-schemas';

/** `/v1/orgs/:orgId/deletions`: irreversible erasure of a deactivated user. */
export function deletionRoutes(deps: { models: Models; flows: FlowProducer }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/deletions',
      summary:
        'Delete a deactivated user for good (admins only): tombstone now, personal data erased by a job',
      scope: 'delete',
      params: orgParamsSchema,
      body: deletionBodySchema,
      idempotent: true,
      responses: {
        202: {
          description: 'Accepted: the user is deleted; the erasure job removes the personal data',
          schema: deletionAcceptedSchema,
        },
        ...commonErrorResponses,
        409: {
          description:
            'State conflict: not_deactivated (details.deactivationId, runStatus), user_deleted, idempotency_in_flight',
          schema: errorResponseSchema,
        },
      },
      handler: async ({ params, body }) => ({
        status: 202,
        body: await requestErasure(
          deps,
          { orgId: params.orgId, userId: body.userId, actorId: body.actorId },
          new Date(),
        ),
      }),
    }),
  ];
}
