import { z } from 'zod';
import { AppError } from '../errors/app-error';
import type { PageKey } from '../store/keyset-page';

/** A cursor's time: milliseconds since the epoch, within the range a Date can hold. */
export const cursorTime = z.number().int().min(-8.64e15).max(8.64e15);
/** A cursor's id: the `_id` of the last item. */
export const cursorId = z.string().min(1).max(300);

/** An opaque page cursor: the sort key of the last item of the previous page. */
export function encodeCursor(values: (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by {@link encodeCursor} and checks it against `shape` (the types of the
 * route's sort key). Anything else, a cursor tampered with included, is 400: a value of the
 * wrong type must never reach a query, where mongoose would fail with a CastError (a 500).
 */
export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  const parsed = shape.safeParse(values);
  if (parsed.success) return parsed.data;
  throw new AppError('validation_failed', 'The cursor is not valid', {
    details: [{ path: ['query', 'cursor'], message: 'not a cursor returned by this API' }],
  });
}

/**
 * The cursor of a keyset listing ({@link PageKey}): `[time, id]`. `nullableTime` for listings
 * whose key may be null (users who never logged in); elsewhere a null time is refused like any
 * other tampered value.
 */
export function decodePageCursor(
  cursor: string | undefined,
  options: { nullableTime?: boolean } = {},
): PageKey | null {
  if (cursor === undefined) return null;
  const time = options.nullableTime ? cursorTime.nullable() : cursorTime;
  const [at, id] = decodeCursor(cursor, z.tuple([time, cursorId]));
  return { at, id };
}

/** A keyset page as the API answers it: each item through `view`, and the next page's cursor. */
export function pageBody<T, V>(
  page: { items: T[]; next: PageKey | null },
  view: (item: T) => V,
): { items: V[]; nextCursor: string | null } {
  return { items: page.items.map((item) => view(item)), nextCursor: encodePageCursor(page.next) };
}

/** The opaque cursor of the page after `next`, or null on the last page. */
export function encodePageCursor(next: PageKey | null): string | null {
  return next === null ? null : encodeCursor([next.at, next.id]);
}
