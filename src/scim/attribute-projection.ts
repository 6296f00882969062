import { AppError } from '../errors/app-error';
import { parseAttributePath } from './filter-parser';

/** The `attributes` / `excludedAttributes` of a request (RFC 7644 §3.4.2.5), parsed. */
export interface Projection {
  attributes: string[][] | null;
  excludedAttributes: string[][] | null;
}

/** Always returned, whatever `attributes` or `excludedAttributes` say (RFC 7643 §7). */
const alwaysReturned = new Set(['id', 'schemas']);

function parseList(value: string[] | string | undefined): string[][] | null {
  if (value === undefined) return null;
  const items = (Array.isArray(value) ? value : value.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) return null;
  return items.map((item) => {
    const path = parseAttributePath(item);
    if (path.valueFilter !== null) {
      throw new AppError('invalid_value', `"${item}" cannot name attributes with a filter`);
    }
    return [path.attribute, ...(path.subAttribute === null ? [] : [path.subAttribute])];
  });
}

/** Parses both parameters; they are mutually exclusive. */
export function parseProjection(
  attributes: string[] | string | undefined,
  excludedAttributes: string[] | string | undefined,
): Projection {
  const projection = {
    attributes: parseList(attributes),
    excludedAttributes: parseList(excludedAttributes),
  };
  if (projection.attributes !== null && projection.excludedAttributes !== null) {
    throw new AppError('invalid_syntax', 'attributes and excludedAttributes exclude each other');
  }
  return projection;
}

function keyOf(object: object, lowerName: string): string | undefined {
  return Object.keys(object).find((key) => key.toLowerCase() === lowerName);
}

/** Applies a projection to one resource (names compared case-insensitively). */
export function project<T extends object>(resource: T, projection: Projection): Partial<T> {
  const source = resource as Record<string, unknown>;
  if (projection.attributes !== null) {
    const result: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      if (alwaysReturned.has(key)) result[key] = value;
    }
    for (const [attribute, sub] of projection.attributes) {
      const key = keyOf(source, attribute ?? '');
      if (key === undefined) continue;
      const value = source[key];
      if (
        sub === undefined ||
        typeof value !== 'object' ||
        value === null ||
        Array.isArray(value)
      ) {
        result[key] = value;
        continue;
      }
      const subKey = keyOf(value, sub);
      if (subKey === undefined) continue;
      const kept = (result[key] ?? {}) as Record<string, unknown>;
      kept[subKey] = (value as Record<string, unknown>)[subKey];
      result[key] = kept;
    }
    return result as Partial<T>;
  }
  if (projection.excludedAttributes !== null) {
    const excluded = projection.excludedAttributes;
    const isExcluded = (attribute: string, sub?: string): boolean =>
      excluded.some(([a, s]) => a === attribute.toLowerCase() && s === sub?.toLowerCase());
    const result: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      if (!alwaysReturned.has(key) && isExcluded(key)) continue;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        result[key] = value;
        continue;
      }
      result[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).filter(([sub]) => !isExcluded(key, sub)),
      );
    }
    return result as Partial<T>;
  }
  return resource;
}
