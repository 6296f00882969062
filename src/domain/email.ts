import { createHash } from 'node:crypto';

/** Trims and lower-cases an email: the one form stored and hashed (see docs/data.md). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Hex SHA-256 of the normalized email: the blocklist key that survives erasure. */
export function hashEmail(email: string): string {
  return createHash('sha256').update(normalizeEmail(email)).digest('hex');
}
