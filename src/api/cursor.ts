import { AppError } from '../errors/app-error';

/** An opaque page cursor: the sort key of the last item of the previous page. */
export function encodeCursor(values: (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}; a malformed one is 400. */
export function decodeCursor(cursor: string, arity: number): (string | number | null)[] {
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(values) &&
      values.length === arity &&
      values.every(
        (value) => value === null || typeof value === 'string' || typeof value === 'number',
      )
    ) {
      return values as (string | number | null)[];
    }
  } catch {
    // fall through to the refusal
  }
  throw new AppError('validation_failed', 'The cursor is not valid', {
    details: [{ path: ['query', 'cursor'], message: 'not a cursor returned by this API' }],
  });
}
