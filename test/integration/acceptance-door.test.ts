import { assessDeactivations } from '../../src/deactivation/assess-deactivation';
import {
  acceptanceSeam,
  acceptDeactivations,
  requestDeactivation,
} from '../../src/deactivation/request-deactivation';
import { AppError } from '../../src/errors/app-error';
import { insertFixtures, newId, orgFixture, userFixture } from '../../test-kit/factories';
import { openIdleProducer, type IdleProducer } from '../support/run-helpers';
import { openTestStore, type TestStore } from '../support/test-env';

// docs/architecture.md (the path of one deactivation): single requests and bulks are accepted
// through one door, so the last-admin rule holds between them too: a bulk's admins are switched
// under the same per-organization admin lock as a single request's.

let store: TestStore;
let idle: IdleProducer;

beforeAll(async () => {
  store = await openTestStore('acceptance');
  idle = openIdleProducer();
});

afterAll(async () => {
  acceptanceSeam.afterChecks = undefined;
  await idle.close();
  await store.close();
});

/** Parks the next two acceptances of `orgId` at the seam until both have arrived. */
function holdBothAfterChecks(orgId: string): { arrived: number } {
  const state = { arrived: 0 };
  const waiting: (() => void)[] = [];
  acceptanceSeam.afterChecks = async (acceptance) => {
    if (acceptance.orgId !== orgId) return;
    state.arrived += 1;
    await new Promise<void>((release) => {
      waiting.push(release);
      if (waiting.length === 2) for (const next of waiting) next();
    });
  };
  return state;
}

describe('one acceptance door', () => {
  it('a bulk and a single request deactivating the last two admins at once: exactly one is accepted, every time', async () => {
    const { models } = store;
    const deps = { models, flows: idle.flows, locks: idle.locks };
    for (let round = 0; round < 5; round += 1) {
      const org = orgFixture();
      const x = userFixture(org._id, { role: 'admin' });
      const y = userFixture(org._id, { role: 'admin' });
      await insertFixtures(models, { organizations: [org], users: [x, y] });
      const now = new Date();
      // The bulk's batch, assessed as the bulk job assesses it: y, by x.
      const assessed = await assessDeactivations(
        models,
        { orgId: org._id, actorId: x._id, userIds: [y._id], counts: false },
        now,
      );
      const assessment = assessed.get(y._id);
      if (!assessment?.ok) throw new Error(`y was refused: ${JSON.stringify(assessment)}`);

      const seam = holdBothAfterChecks(org._id);
      let results: [PromiseSettledResult<unknown>, PromiseSettledResult<unknown>];
      try {
        results = await Promise.allSettled([
          acceptDeactivations(
            deps,
            {
              orgId: org._id,
              actorId: x._id,
              source: 'bulk',
              reason: null,
              bulkId: newId('bulk'),
            },
            [assessment.assessment],
            { now },
          ).then((outcomes) => {
            const outcome = outcomes.get(y._id);
            if (!outcome?.ok) throw outcome?.error ?? new Error('no outcome');
            return outcome.run;
          }),
          requestDeactivation(deps, {
            orgId: org._id,
            userId: x._id,
            actorId: y._id,
            source: 'api',
          }),
        ]);
      } finally {
        acceptanceSeam.afterChecks = undefined;
      }
      expect(seam.arrived).toBe(2);
      const accepted = results.filter((result) => result.status === 'fulfilled');
      const refused = results.flatMap((result) =>
        result.status === 'rejected' ? [result.reason as unknown] : [],
      );
      expect({ round, accepted: accepted.length }).toEqual({ round, accepted: 1 });
      expect(refused[0]).toBeInstanceOf(AppError);
      expect(refused[0]).toMatchObject({ code: 'last_admin' });
      const admins = await models.users
        .find({ orgId: org._id }, { status: 1, deactivationId: 1 })
        .lean();
      expect(admins.map((admin) => admin.status).sort()).toEqual(['active', 'inactive']);
      // The refused acceptance left nothing behind: one run, the accepted one's.
      expect(await models.deactivations.countDocuments({ orgId: org._id })).toBe(1);
    }
  });
});
