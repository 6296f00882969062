import { createHash } from 'node:crypto';
import { orgParamsSchema } from '../../src/api/schemas/common-schemas';
import {
  deactivationBodySchema,
  deactivationQuerySchema,
} from '../../src/api/schemas/deactivation-schemas';
import {
  deactivationApiHelpers,
  expectError,
  useDeactivationApi,
} from '../support/deactivation-api';
import { newId, userFixture } from '../../test-kit/factories';

/* Idempotency-Key on POST /deactivations: replay, 422, 409 in flight, takeover. */

const t = useDeactivationApi('deactidem');
const { post, seedOrg, runsOf, expectUntouched } = deactivationApiHelpers(t);

describe('Idempotency-Key', () => {
  const route = 'post /v1/orgs/:orgId/deactivations';
  /** How the service identifies a keyed request (src/api/idempotency.ts). */
  function idempotencyIds(
    apiKeyId: string,
    key: string,
    orgId: string,
    body: unknown,
    query: Record<string, string> = {},
  ): { id: string; requestHash: string } {
    const sha = (value: string): string => createHash('sha256').update(value).digest('hex');
    return {
      id: sha(`${apiKeyId}\n${route}\n${key}`),
      requestHash: sha(
        JSON.stringify({
          params: orgParamsSchema.parse({ orgId }),
          query: deactivationQuerySchema.parse(query),
          body: deactivationBodySchema.parse(body),
        }),
      ),
    };
  }

  it('replays the first response for the same key and body; one run only', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const key = newId('idem');
    const body = { userId: user._id, actorId: admin._id, reason: 'contract ended' };

    const first = await post(orgId, body, { idempotencyKey: key });
    expect(first.status).toBe(202);
    const replay = await post(orgId, body, { idempotencyKey: key });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.location).toBe(first.headers.location);
    expect(replay.headers.location).toBe(
      `/v1/orgs/${orgId}/deactivations/${first.body.id as string}`,
    );
    expect(await runsOf(user._id)).toHaveLength(1);

    // The record is the one the service computes for this request.
    const ids = idempotencyIds(t.writeKeyId, key, orgId, body);
    expect(await t.h.models.idempotencyRecords.findById(ids.id).lean()).toMatchObject({
      requestHash: ids.requestHash,
      state: 'done',
      responseStatus: 202,
    });

    // Without the key (or with another) the same body is a new request, refused as a conflict.
    expectError(await post(orgId, body), 409, 'deactivation_in_progress');
    expectError(
      await post(orgId, body, { idempotencyKey: newId('idem') }),
      409,
      'deactivation_in_progress',
    );
    expect(await runsOf(user._id)).toHaveLength(1);
  });

  it('refuses the same key with a different body: 422', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id), userFixture(id)]);
    const key = newId('idem');
    const first = await post(
      orgId,
      { userId: users[0]!._id, actorId: admin._id },
      { idempotencyKey: key },
    );
    expect(first.status).toBe(202);
    expectError(
      await post(orgId, { userId: users[1]!._id, actorId: admin._id }, { idempotencyKey: key }),
      422,
      'idempotency_key_reused',
    );
    expectError(
      await post(
        orgId,
        { userId: users[0]!._id, actorId: admin._id, reason: 'other' },
        { idempotencyKey: key },
      ),
      422,
      'idempotency_key_reused',
    );
    await expectUntouched(users[1]!._id);
    expect(await runsOf(users[0]!._id)).toHaveLength(1);
  });

  it('refuses a duplicate while the first is in flight: 409 idempotency_in_flight', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const key = newId('idem');
    const body = { userId: user._id, actorId: admin._id };
    const ids = idempotencyIds(t.writeKeyId, key, orgId, body);
    const now = new Date();
    await t.h.models.idempotencyRecords.insertMany([
      {
        _id: ids.id,
        requestHash: ids.requestHash,
        state: 'in_flight',
        responseStatus: null,
        responseBody: null,
        responseHeaders: {},
        createdAt: now,
        expiresAt: new Date(now.getTime() + 86_400_000),
      },
    ]);
    expectError(await post(orgId, body, { idempotencyKey: key }), 409, 'idempotency_in_flight');
    await expectUntouched(user._id);
    // A different body under the same key is still 422, in flight or not.
    expectError(
      await post(orgId, { ...body, reason: 'x' }, { idempotencyKey: key }),
      422,
      'idempotency_key_reused',
    );
  });

  it('takes over an in-flight record left by a request that died', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const key = newId('idem');
    const body = { userId: user._id, actorId: admin._id };
    const ids = idempotencyIds(t.writeKeyId, key, orgId, body);
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await t.h.models.idempotencyRecords.insertMany([
      {
        _id: ids.id,
        requestHash: ids.requestHash,
        state: 'in_flight',
        responseStatus: null,
        responseBody: null,
        responseHeaders: {},
        createdAt: longAgo,
        expiresAt: new Date(longAgo.getTime() + 86_400_000),
      },
    ]);
    const res = await post(orgId, body, { idempotencyKey: key });
    expect(res.status).toBe(202);
    expect(await t.h.models.idempotencyRecords.findById(ids.id).lean()).toMatchObject({
      state: 'done',
      responseStatus: 202,
    });
    const replay = await post(orgId, body, { idempotencyKey: key });
    expect({ status: replay.status, body: replay.body }).toEqual({ status: 202, body: res.body });
  });

  it('replays a refusal too, and refuses a malformed key', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const key = newId('idem');
    const body = { userId: users[0]!._id, actorId: users[0]!._id };
    const refused = await post(orgId, body, { idempotencyKey: key });
    expectError(refused, 403, 'actor_not_allowed');
    const replay = await post(orgId, body, { idempotencyKey: key });
    expect({ status: replay.status, body: replay.body }).toEqual({
      status: 403,
      body: refused.body,
    });
    expectError(
      await post(
        orgId,
        { userId: users[0]!._id, actorId: admin._id },
        { idempotencyKey: 'x'.repeat(256) },
      ),
      400,
      'validation_failed',
    );
    await expectUntouched(users[0]!._id);
  });
});
