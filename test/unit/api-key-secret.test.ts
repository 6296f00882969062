import { createHash } from 'node:crypto';
import {
  displayPrefix,
  generateApiKey,
  hashApiKey,
  hashesMatch,
} from '../../src/auth/api-key-secret';

describe('API key secrets', () => {
  it('generates distinct keys with 256 bits of randomness', () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey()));
    expect(keys.size).toBe(200);
    for (const key of keys) expect(key).toMatch(/^obk_[A-Za-z0-9_-]{43}$/);
  });

  it('hashes with SHA-256, hex encoded', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).toHaveLength(64);
    expect(hashApiKey(key)).not.toContain(key.slice(4));
  });

  it('matches equal hashes and refuses different or malformed ones', () => {
    const hash = hashApiKey('obk_a');
    expect(hashesMatch(hash, hashApiKey('obk_a'))).toBe(true);
    expect(hashesMatch(hash, hashApiKey('obk_b'))).toBe(false);
    expect(hashesMatch(hash, hash.slice(0, 10))).toBe(false);
    expect(hashesMatch('', '')).toBe(false);
  });

  it('shows only a short prefix in listings', () => {
    expect(displayPrefix('obk_abcdefghijkl')).toBe('obk_abcdef');
  });
});
