import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const keyPrefix = 'obk_';

/** A new random API key: `obk_` and 43 URL-safe characters (256 bits). */
export function generateApiKey(): string {
  return keyPrefix + randomBytes(32).toString('base64url');
}

/** Hex SHA-256 of a key: all that is stored of it. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Compares two hex hashes in constant time. */
export function hashesMatch(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** What listings show of a key: enough to recognise it, not enough to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, keyPrefix.length + 6);
}
