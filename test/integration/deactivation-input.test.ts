import type { User } from '../../src/models/user.model';
import {
  deactivationApiHelpers,
  deactivationsPath,
  expectError,
  issuePaths,
  useDeactivationApi,
} from '../support/deactivation-api';
import { userFixture } from '../../test-kit/factories';

/* Bad input: 400 with every zod issue, 413 for a body too large. */

const t = useDeactivationApi('deactinput');
const { api, post, seedOrg, expectUntouched } = deactivationApiHelpers(t);

describe('400: bad input, with every zod issue in details', () => {
  let orgId: string;
  let admin: User;
  let user: User;
  beforeAll(async () => {
    const seeded = await seedOrg((id) => [userFixture(id)]);
    orgId = seeded.orgId;
    admin = seeded.admin;
    user = seeded.users[0]!;
  });
  afterAll(async () => {
    await expectUntouched(user._id);
  });

  it('lists both missing fields at once', async () => {
    const error = expectError(await post(orgId, {}), 400, 'validation_failed');
    const paths = issuePaths(error);
    expect(paths.length).toBeGreaterThanOrEqual(2);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['body', 'userId'],
        ['body', 'actorId'],
      ]),
    );
    for (const issue of error.details as Record<string, unknown>[]) {
      expect(issue).toEqual(
        expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
      );
    }
  });

  it('rejects an unknown body field', async () => {
    const error = expectError(
      await post(orgId, { userId: user._id, actorId: admin._id, force: true }),
      400,
      'validation_failed',
    );
    expect(error.details).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['force'], path: ['body'] }),
    ]);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await api()
      .post(deactivationsPath(orgId))
      .set('Authorization', `Bearer ${t.writeKey}`)
      .set('Content-Type', 'application/json')
      .send('{"userId": "x", ');
    expectError(res, 400, 'validation_failed');
  });

  it('rejects a body that is a JSON array (400) or of a non-JSON content type (415)', async () => {
    expectError(
      await api()
        .post(deactivationsPath(orgId))
        .set('Authorization', `Bearer ${t.writeKey}`)
        .set('Content-Type', 'application/json')
        .send('[]'),
      400,
      'validation_failed',
    );
    expectError(
      await api()
        .post(deactivationsPath(orgId))
        .set('Authorization', `Bearer ${t.writeKey}`)
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ userId: user._id, actorId: admin._id })),
      415,
      'unsupported_media_type',
    );
    // No body at all is a 400 about the missing fields, not a 415.
    expectError(
      await api().post(deactivationsPath(orgId)).set('Authorization', `Bearer ${t.writeKey}`),
      400,
      'validation_failed',
    );
  });

  it('rejects a bad dryRun value, together with body issues', async () => {
    const error = expectError(
      await post(orgId, { userId: user._id, actorId: 42 }, { query: '?dryRun=yes' }),
      400,
      'validation_failed',
    );
    const paths = issuePaths(error);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['query', 'dryRun'],
        ['body', 'actorId'],
      ]),
    );
    expect(paths).toHaveLength(2);
    expectError(
      await post(orgId, { userId: user._id, actorId: admin._id }, { query: '?dryRun=1' }),
      400,
      'validation_failed',
    );
  });

  it('rejects malformed ids, a wrong type and an over-long reason', async () => {
    const error = expectError(
      await post(orgId, {
        userId: 'has space',
        actorId: admin._id,
        reason: 'r'.repeat(1001),
        allowReactivationOnPurchase: 'yes',
      }),
      400,
      'validation_failed',
    );
    const paths = issuePaths(error);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['body', 'userId'],
        ['body', 'reason'],
        ['body', 'allowReactivationOnPurchase'],
      ]),
    );
  });
});

describe('413: body too large', () => {
  it('refuses a body over 100 kB', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const res = await post(orgId, {
      userId: users[0]!._id,
      actorId: admin._id,
      reason: 'x'.repeat(110 * 1024),
    });
    expectError(res, 413, 'payload_too_large');
    await expectUntouched(users[0]!._id);
  });
});
