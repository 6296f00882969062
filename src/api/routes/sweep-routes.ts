import type { Queue } from 'bullmq';
import type { Models } from '../../models/create-models';
import type { SweepReport } from '../../models/sweep-report.model';
import { approveSweep } from '../../sweeps/approve-sweep';
import { listSweepReports } from '../../sweeps/list-sweep-reports';
import { putSweepPolicy } from '../../sweeps/sweep-policy';
import { hasScope } from '../authenticate';
import { decodePageCursor, pageBody } from '../cursor';
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

interface SweepRoutesDeps {
  models: Models;
  bulkQueue: Queue;
  sweepsQueue: Queue;
}

/** `PUT /sweep-policy`: store the policy and make its scheduler match. */
function putPolicyRoute(deps: SweepRoutesDeps): RouteDefinition {
  return defineRoute({
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
  });
}

/** `GET /sweeps`: the reports, a page at a time. */
function listSweepsRoute(models: Models): RouteDefinition {
  return defineRoute({
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
      const page = await listSweepReports(models, {
        orgId: params.orgId,
        limit: query.limit,
        after: decodePageCursor(query.cursor),
      });
      return { status: 200, body: pageBody(page, toSweepView) };
    },
  });
}

/** `POST /sweeps/:id/approve`: release a held sweep. */
function approveSweepRoute(deps: SweepRoutesDeps): RouteDefinition {
  return defineRoute({
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
  });
}

/** Sweep policy, sweep reports and approval of held sweeps. */
export function sweepRoutes(deps: SweepRoutesDeps): RouteDefinition[] {
  return [putPolicyRoute(deps), listSweepsRoute(deps.models), approveSweepRoute(deps)];
}
