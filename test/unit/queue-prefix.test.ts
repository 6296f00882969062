import { queueNames, queuePrefixFor, queuePrefixesOf } from '../../src/queues/queue-names';

describe('queuePrefixFor', () => {
  it("keeps a flow's queues in the base prefix's slot", () => {
    for (const queue of [queueNames.runs, queueNames.steps, queueNames.erasures, queueNames.bulk]) {
      expect(queuePrefixFor('{offboard}', queue)).toBe('{offboard}');
    }
  });

  it('gives a queue outside every flow a hash tag of its own, on a tagged prefix only', () => {
    expect(queuePrefixFor('{offboard}', queueNames.maintenance)).toBe('{offboard-maintenance}');
    expect(queuePrefixFor('acme{jobs}x', queueNames.maintenance)).toBe('acme{jobs-maintenance}x');
    // An untagged prefix (one Redis server) keeps every queue where it was.
    expect(queuePrefixFor('offboard', queueNames.maintenance)).toBe('offboard');
    expect(queuePrefixesOf('{offboard}')).toEqual(['{offboard}', '{offboard-maintenance}']);
    expect(queuePrefixesOf('offboard')).toEqual(['offboard']);
  });
});
