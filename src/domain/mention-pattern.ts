import { normalizeEmail } from './email';

/** What identifies a person in free text. */
export interface PersonIdentifiers {
  email?: string | null | undefined;
  firstName?: string | null | undefined;
  lastName?: string | null | undefined;
}

/** Shorter names (or name parts) are not searched: a single letter would match most texts. */
const minNameLength = 2;
/** Parts of a multi-part name shorter than this ("de", "van") are only matched as the whole. */
const minPartLength = 3;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function nameTerms(name: string | null | undefined): string[] {
  const whole = (name ?? '').trim().replace(/\s+/g, ' ');
  if (whole.length < minNameLength) return [];
  const parts = whole.split(/[\s-]+/).filter((part) => part.length >= minPartLength);
  return [whole, ...parts];
}

/**
 * A case-insensitive pattern matching free text that names the person: their email anywhere in
 * it, or their first or last name (whole, or any part of three characters or more) as a word —
 * not inside another word, so erasing "Lee" does not touch a reason about a "fleet". Null when
 * there is nothing to look for.
 *
 * Written in the subset of regular expressions that MongoDB (PCRE) and FerretDB (Go's RE2)
 * evaluate alike: escaped literals, non-capturing groups, ASCII classes, the `i` flag. Word
 * edges are any character but an ASCII letter or digit, so a name with accents still has them.
 */
export function mentionPattern(person: PersonIdentifiers): RegExp | null {
  const email = normalizeEmail(person.email ?? '');
  const names = [...new Set([...nameTerms(person.firstName), ...nameTerms(person.lastName)])].map(
    escapeRegExp,
  );
  const alternatives = email === '' ? [] : [escapeRegExp(email)];
  if (names.length > 0) {
    alternatives.push(`(?:^|[^A-Za-z0-9])(?:${names.join('|')})(?:[^A-Za-z0-9]|$)`);
  }
  return alternatives.length === 0 ? null : new RegExp(alternatives.join('|'), 'i');
}
