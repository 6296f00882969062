import { assertRegistryComplete } from '../../src/workers/job-registry';

const handler = (): Promise<string> => Promise.resolve('done');

describe('job registry', () => {
  it('refuses to start when a declared job has no handler', () => {
    expect(() => {
      assertRegistryComplete({ maintenance: { a: handler } }, { maintenance: ['a', 'b'] });
    }).toThrow('Jobs without a handler: maintenance/b');
  });

  it('accepts a complete registry', () => {
    expect(() => {
      assertRegistryComplete({ maintenance: { a: handler } }, { maintenance: ['a'] });
    }).not.toThrow();
  });
});
