import { createHash } from 'node:crypto';
import { hashEmail, normalizeEmail } from '../../src/domain/email';

describe('email normalization', () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
  });

  it('hashes the normalized form, so spellings of one address share a hash', () => {
    const expected = createHash('sha256').update('ada@example.com').digest('hex');
    expect(hashEmail(' ADA@example.com')).toBe(expected);
    expect(hashEmail('ada@example.com')).toBe(expected);
    expect(hashEmail('bob@example.com')).not.toBe(expected);
  });
});
