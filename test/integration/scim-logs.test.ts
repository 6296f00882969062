import { Writable } from 'node:stream';
import request from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import { createLogger } from '../../src/logging/logger';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';

let h: ApiHarness;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  h = await openApiHarness('scimlogs', {}, { logger: createLogger({ logLevel: 'info' }, sink) });
});

afterAll(async () => {
  await h.close();
});

it('keeps the people a SCIM query names out of the request log', async () => {
  const org = orgFixture();
  const user = userFixture(org._id, { email: 'ada.lovelace@example.com' });
  await insertFixtures(h.models, { organizations: [org], users: [user] });
  const { key } = await createApiKey(h.models, { name: 'scim', scopes: ['scim'], orgIds: ['*'] });
  const filter = encodeURIComponent('userName eq "Ada.Lovelace@example.com"');
  const res = await request(h.app)
    .get(`/scim/v2/orgs/${org._id}/Users?filter=${filter}`)
    .set('Authorization', `Bearer ${key}`);
  expect(res.status).toBe(200);
  expect(res.text).toContain(user._id);
  const logged = lines.join('\n');
  expect(logged).toContain(`/scim/v2/orgs/${org._id}/Users`);
  expect(logged.toLowerCase()).not.toContain('lovelace');
});
