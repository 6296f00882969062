import type { Queue } from 'bullmq';
import type { Models } from '../../models/create-models';
import type { SweepReport } from '../../models/sweep-report.model';
import { approveSweep } from '../../sweeps/approve-sweep';
import { listSweepReports } from '../../sweeps/list-sweep-reports';
import { putSweepPolicy } from '../../sweeps/sweep-policy';
import { sweepTally } from '../../sweeps/sweep-tally';
import { hasScope } from '../authenticate';
import { pagedListRoute } from '../paged-list-route';
import { defineRoute, type RouteDefinition } from '../route-definition';
import {
  sweepListQuerySchema,
  sweepParamsSchema,
  sweepPolicySchema,
  sweepReportSchema,
} from '../schemas/bulk-schemas';
import {
  commonErrorResponses,
  errorResponseSchema,
  orgParamsSchema,
} from '../schemas/common-schemas';
import { z } from 'zod';

/**
 * A sweep report as the API returns it: the documented fields by name, so a field added to the
 * stored report does not leak into a response its schema (closed to other properties) refuses.
 */
function toSweepView(sweep: SweepReport): Record<keyof z.input<typeof sweepReportSchema>, unknown> {
  return {
    id: sweep._id,
    orgId: sweep.orgId,
    status: sweep.status,
    dryRun: sweep.dryRun,
    startedAt: sweep.startedAt,
    finishedAt: sweep.finishedAt,
    ...sweepTally(sweep),
    bulkId: sweep.bulkId,
    approvedBy: sweep.approvedBy,
    approvedAt: sweep.approvedAt,
    error: sweep.error,
  };
}

interface SweepRoutesDeps {
  models: Models;
  bulkQueue: Queue;
  sweepsQueue: Queue;
}

/** Sweep policy, sweep reports and approval of held sweeps. */
export function sweepRoutes(deps: SweepRoutesDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'put',
      path: '/v1/orgs/:orgId/sweep-policy',
      summary:
        'Set the automatic inactivity sweep; enabled policies run on their cron as BullMQ job schedulers. Raising maxPerRun above 500 (or the current value) or removing an exempt role needs the admin scope (403 sweep_safety_requires_admin)',
      scope: 'write',
      params: orgParamsSchema,
      body: sweepPolicySchema,
      responses: {
        200: { description: 'The stored policy', schema: sweepPolicySchema },
        ...commonErrorResponses,
      },
      handler: async ({ params, body, apiKey }) => ({
        status: 200,
        body: await putSweepPolicy(deps, params.orgId, body, {
          mayLowerSafety: apiKey !== null && hasScope(apiKey, 'admin'),
        }),
      }),
    }),
    pagedListRoute({
      models: deps.models,
      path: '/v1/orgs/:orgId/sweeps',
      summary: 'Sweep reports, newest first: matched, deactivated, skipped by reason, held',
      query: sweepListQuerySchema,
      page: {
        description: 'A page of reports',
        schema: z.object({ items: z.array(sweepReportSchema), nextCursor: z.string().nullable() }),
      },
      list: (orgId, { limit }, after) => listSweepReports(deps.models, { orgId, limit, after }),
      view: toSweepView,
    }),
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/sweeps/:id/approve',
      summary: 'Release a sweep held by the circuit breaker (maxPerRun exceeded)',
      scope: 'admin',
      params: sweepParamsSchema,
      responses: {
        200: { description: 'The approved report', schema: sweepReportSchema },
        ...commonErrorResponses,
        409: {
          description: 'not_held: the sweep is not waiting for approval',
          schema: errorResponseSchema,
        },
      },
      handler: async ({ params, apiKey }) => {
        const sweep = await approveSweep(deps, {
          orgId: params.orgId,
          sweepId: params.id,
          approvedBy: `apikey:${apiKey?._id ?? 'unknown'}`,
        });
        return { status: 200, body: toSweepView(sweep) };
      },
    }),
  ];
}
