import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { WebhookConfig } from '../../config/config';
import { AppError } from '../../errors/app-error';
import type { ApiKey } from '../../models/api-key.model';
import type { Models } from '../../models/create-models';
import { queueNames } from '../../queues/queue-names';
import {
  createEndpoint,
  deleteEndpoint,
  findEndpoint,
  retryDelivery,
  rotateSecret,
  toDeliveryView,
  toEndpointView,
  updateEndpoint,
  type EndpointDeps,
} from '../../webhooks/endpoint-repository';
import { decodePageCursor, pageBody } from '../cursor';
import { keysetPage } from '../../store/keyset-page';
import { requireOrganization } from '../require-organization';
import { defineRoute, type RouteDefinition } from '../route-definition';
import {
  commonErrorResponses,
  errorResponseSchema,
  orgParamsSchema,
} from '../schemas/common-schemas';
import {
  createWebhookSchema,
  deliveryListQuerySchema,
  deliveryParamsSchema,
  rotatedSecretSchema,
  updateWebhookSchema,
  webhookDeliverySchema,
  webhookEndpointSchema,
  webhookParamsSchema,
  webhookWithSecretSchema,
} from '../schemas/webhook-schemas';

const actorOf = (apiKey: ApiKey | null): string => `apikey:${apiKey?._id ?? 'unknown'}`;

const refusals = {
  ...commonErrorResponses,
  400: {
    description: 'Invalid request, or url_not_allowed (not https, or not a public address)',
    schema: errorResponseSchema,
  },
};

/** What the webhook routes share: the models, the endpoint repository's deps and the queue. */
interface WebhookRouteDeps {
  models: Models;
  endpointDeps: EndpointDeps;
  webhooksQueue: () => Queue;
}

/** A page of an endpoint's delivery log, newest first, and the cursor of the next page. */
async function findDeliveryPage(
  models: Models,
  endpointId: string,
  query: z.output<typeof deliveryListQuerySchema>,
): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
  const page = await keysetPage(models.webhookDeliveries, {
    filter: { endpointId, ...(query.status !== undefined ? { status: query.status } : {}) },
    key: 'createdAt',
    order: 'desc',
    limit: query.limit,
    after: decodePageCursor(query.cursor),
  });
  return pageBody(page, toDeliveryView);
}

/** `/webhooks`: create an endpoint (its secret shown once) and list them. */
function endpointCollectionRoutes({ models, endpointDeps }: WebhookRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/webhooks',
      summary: 'Create a webhook endpoint; its signing secret is in this response only',
      scope: 'admin',
      params: orgParamsSchema,
      body: createWebhookSchema,
      responses: {
        201: {
          description: 'The endpoint and its whsec_ secret',
          schema: webhookWithSecretSchema,
          headers: {
            Location: { description: 'The endpoint', type: 'string', required: true },
          },
        },
        ...refusals,
        503: {
          ...commonErrorResponses[503],
          description:
            'webhooks_not_configured: SECRETS_KEY is not set; or a backing service is down',
        },
      },
      handler: async ({ params, body, apiKey }) => {
        await requireOrganization(models, params.orgId);
        const { endpoint, secret } = await createEndpoint(
          endpointDeps,
          { orgId: params.orgId, ...body },
          actorOf(apiKey),
        );
        return {
          status: 201,
          body: { ...toEndpointView(endpoint), secret },
          headers: { Location: `/v1/orgs/${params.orgId}/webhooks/${endpoint._id}` },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/webhooks',
      summary: "The organization's webhook endpoints (never their secrets)",
      scope: 'admin',
      params: orgParamsSchema,
      responses: {
        200: {
          description: 'Every endpoint, oldest first',
          schema: z.object({ items: z.array(webhookEndpointSchema) }),
        },
        ...commonErrorResponses,
      },
      handler: async ({ params }) => {
        await requireOrganization(models, params.orgId);
        const endpoints = await models.webhookEndpoints
          .find({ orgId: params.orgId })
          .sort({ createdAt: 1, _id: 1 })
          .limit(1_000)
          .lean();
        return { status: 200, body: { items: endpoints.map(toEndpointView) } };
      },
    }),
  ];
}

/** `/webhooks/:id`: read, change and delete one endpoint. */
function endpointRoutes({ models, endpointDeps }: WebhookRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/webhooks/:id',
      summary: 'One webhook endpoint',
      scope: 'admin',
      params: webhookParamsSchema,
      responses: {
        200: { description: 'The endpoint', schema: webhookEndpointSchema },
        ...commonErrorResponses,
      },
      handler: async ({ params }) => ({
        status: 200,
        body: toEndpointView(await findEndpoint(models, params.orgId, params.id)),
      }),
    }),
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/:orgId/webhooks/:id',
      summary: 'Change the URL, the events or enabled (enabling clears what disabled it)',
      scope: 'admin',
      params: webhookParamsSchema,
      body: updateWebhookSchema,
      responses: {
        200: { description: 'The endpoint as now stored', schema: webhookEndpointSchema },
        ...refusals,
      },
      handler: async ({ params, body, apiKey }) => ({
        status: 200,
        body: toEndpointView(await updateEndpoint(endpointDeps, params, body, actorOf(apiKey))),
      }),
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/:orgId/webhooks/:id',
      summary: 'Delete a webhook endpoint; its pending deliveries are dropped',
      scope: 'admin',
      params: webhookParamsSchema,
      responses: { 204: { description: 'Deleted' }, ...commonErrorResponses },
      handler: async ({ params, apiKey }) => {
        await deleteEndpoint(endpointDeps, params, actorOf(apiKey));
        return { status: 204, body: null };
      },
    }),
  ];
}

/** `/webhooks/:id/rotate-secret`: a new signing secret beside the old one. */
function rotateSecretRoute({ endpointDeps }: WebhookRouteDeps): RouteDefinition {
  return defineRoute({
    method: 'post',
    path: '/v1/orgs/:orgId/webhooks/:id/rotate-secret',
    summary: 'A new signing secret (shown once); the old one keeps signing beside it for 24 h',
    scope: 'admin',
    params: webhookParamsSchema,
    responses: {
      200: { description: 'The new secret', schema: rotatedSecretSchema },
      ...commonErrorResponses,
    },
    handler: async ({ params, apiKey }) => {
      const rotated = await rotateSecret(endpointDeps, params, actorOf(apiKey));
      return {
        status: 200,
        body: {
          id: rotated.endpoint._id,
          secret: rotated.secret,
          previousSecretExpiresAt: rotated.previousSecretExpiresAt,
        },
      };
    },
  });
}

/** `/webhooks/:id/deliveries`: the delivery log and the retry of one delivery. */
function deliveryRoutes({
  models,
  endpointDeps,
  webhooksQueue,
}: WebhookRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/orgs/:orgId/webhooks/:id/deliveries',
      summary:
        'The delivery log, newest first: event, status, attempts, last response, next attempt',
      scope: 'admin',
      params: webhookParamsSchema,
      query: deliveryListQuerySchema,
      responses: {
        200: {
          description: 'A page of deliveries',
          schema: z.object({
            items: z.array(webhookDeliverySchema),
            nextCursor: z.string().nullable(),
          }),
        },
        ...commonErrorResponses,
      },
      handler: async ({ params, query }) => {
        const endpoint = await findEndpoint(models, params.orgId, params.id);
        return { status: 200, body: await findDeliveryPage(models, endpoint._id, query) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/orgs/:orgId/webhooks/:id/deliveries/:deliveryId/retry',
      summary: 'Attempt one delivery again now (same webhook-id)',
      scope: 'admin',
      params: deliveryParamsSchema,
      responses: {
        202: { description: 'Queued', schema: webhookDeliverySchema },
        ...commonErrorResponses,
        409: {
          description: 'endpoint_disabled: enable the endpoint first',
          schema: errorResponseSchema,
        },
      },
      handler: async ({ params, apiKey }) => {
        const delivery = await retryDelivery(
          { ...endpointDeps, queue: webhooksQueue() },
          { orgId: params.orgId, endpointId: params.id, deliveryId: params.deliveryId },
          actorOf(apiKey),
        );
        return { status: 202, body: toDeliveryView(delivery) };
      },
    }),
  ];
}

/** `/v1/orgs/:orgId/webhooks`: endpoints, secret rotation, the delivery log and its retry. */
export function webhookRoutes(deps: {
  models: Models;
  queues: readonly Queue[];
  webhooks?: WebhookConfig | undefined;
}): RouteDefinition[] {
  const { models } = deps;
  const endpointDeps: EndpointDeps = {
    models,
    config: deps.webhooks ?? {
      secretsKey: null,
      allowedAddresses: [],
      retryScheduleMs: [],
      timeoutMs: 15_000,
      relayIntervalMs: 1_000,
    },
  };
  const webhooksQueue = (): Queue => {
    const queue = deps.queues.find((candidate) => candidate.name === queueNames.webhooks);
    if (!queue) throw new AppError('internal', 'The webhooks queue is not open');
    return queue;
  };
  const shared: WebhookRouteDeps = { models, endpointDeps, webhooksQueue };
  return [
    ...endpointCollectionRoutes(shared),
    ...endpointRoutes(shared),
    rotateSecretRoute(shared),
    ...deliveryRoutes(shared),
  ];
}
