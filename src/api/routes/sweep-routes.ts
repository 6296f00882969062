import type { Queue } from 'bullmq';
import type { Models } from '../../models/create-models';
import type { SweepReport } from '../../models/sweep-report.model';
import { approveSweep } from '../../sweeps/approve-sweep';
import { putSweepPolicy } from '../../sweeps/sweep-policy';
import { hasScope } from '../authenticate';
import { cursorId, cursorTime, decodeCursor, encodeCursor } from '../cursor';
import { requireOrganization } from '../require-organization';
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
    matched: sweep.matched,
    selected: sweep.selected,
    deactivated: sweep.deactivated,
    skippedByReason: sweep.skippedByReason,
    held: sweep.held,
    maxPerRun: sweep.maxPerRun,
    bulkId: sweep.bulkId,
    approvedBy: sweep.approvedBy,
    approvedAt: sweep.approvedAt,
    error: sweep.error,
  };
}

/** Sweep policy, sweep reports and approval of held sweeps. */
export function sweepRoutes(deps: {
  models: Models;
  bulkQueue: Queue;
  sweepsQueue: Queue;
}): RouteDefinition[] {
  const { models } = deps;
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
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/sweeps',
      summary: 'Sweep reports, newest first: matched, deactivated, skipped by reason, held',
      scope: 'read',
      params: orgParamsSchema,
      query: sweepListQuerySchema,
      responses: {
        200: {
          description: 'A page of reports',
          schema: z.object({
            items: z.array(sweepReportSchema),
            nextCursor: z.string().nullable(),
          }),
        },
        ...commonErrorResponses,
      },
      handler: async ({ params, query }) => {
        await requireOrganization(models, params.orgId);
        const filter: Record<string, unknown> = { orgId: params.orgId };
        if (query.cursor !== undefined) {
          const [startedAt, id] = decodeCursor(query.cursor, z.tuple([cursorTime, cursorId]));
          const at = new Date(startedAt);
          filter.$or = [{ startedAt: { $lt: at } }, { startedAt: at, _id: { $lt: id } }];
        }
        const sweeps = await models.sweeps
          .find(filter)
          .sort({ startedAt: -1, _id: -1 })
          .limit(query.limit + 1)
          .lean();
        const page = sweeps.slice(0, query.limit);
        const last = page.at(-1);
        return {
          status: 200,
          body: {
            items: page.map(toSweepView),
            nextCursor:
              sweeps.length > query.limit && last
                ? encodeCursor([last.startedAt.getTime(), last._id])
                : null,
          },
        };
      },
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
