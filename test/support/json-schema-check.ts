/** The part of JSON Schema 2020-12 that the OpenAPI document's zod-generated schemas use. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  if (type === 'integer') return actual === 'number' && Number.isInteger(value);
  return actual === type;
}

/**
 * Where `value` breaks `schema`, one line per problem (empty when it conforms). Structural
 * checks only (types, required and unknown properties, enums); string formats and bounds are
 * left to schemathesis (scripts/schemathesis.sh), which validates every response in full.
 */
export function schemaViolations(value: unknown, schema: JsonSchema, path = '$'): string[] {
  const problems: string[] = [];
  if (schema.anyOf && !schema.anyOf.some((s) => schemaViolations(value, s, path).length === 0)) {
    problems.push(`${path}: matches none of anyOf`);
  }
  if (
    schema.oneOf &&
    schema.oneOf.filter((s) => schemaViolations(value, s, path).length === 0).length !== 1
  ) {
    problems.push(`${path}: does not match exactly one of oneOf`);
  }
  for (const part of schema.allOf ?? []) problems.push(...schemaViolations(value, part, path));
  if (schema.const !== undefined && value !== schema.const) {
    problems.push(`${path}: is not ${JSON.stringify(schema.const)}`);
  }
  if (schema.enum && !schema.enum.includes(value)) {
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => hasType(value, type))) {
      problems.push(`${path}: is ${typeOf(value)}, documented as ${types.join(' or ')}`);
      return problems;
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!(name in object)) problems.push(`${path}: lacks required property "${name}"`);
    }
    for (const [name, property] of Object.entries(object)) {
      const documented = schema.properties?.[name];
      if (documented) problems.push(...schemaViolations(property, documented, `${path}.${name}`));
      else if (schema.additionalProperties === false) {
        problems.push(`${path}: has undocumented property "${name}"`);
      } else if (typeof schema.additionalProperties === 'object') {
        problems.push(
          ...schemaViolations(property, schema.additionalProperties, `${path}.${name}`),
        );
      }
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, index) => {
      problems.push(...schemaViolations(item, schema.items!, `${path}[${index}]`));
    });
  }
  return problems;
}
