import { AppError } from '../errors/app-error';
import { scimUrns } from './scim-constants';

/** A comparison operator of RFC 7644 §3.4.2.2. */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/** A literal on the right of a comparison. */
export type FilterValue = string | number | boolean | null;

/**
 * An attribute path: `[schema:]attribute[.subAttribute]`, or `attribute[valueFilter][.sub]`.
 * Names are lower-cased (SCIM attribute names are case-insensitive); `text` is as written.
 */
export interface AttributePath {
  /** The schema URN in front of the attribute, lower-cased, or null when there is none. */
  schema: string | null;
  attribute: string;
  subAttribute: string | null;
  valueFilter: Filter | null;
  text: string;
}

/** A parsed filter expression (the whole RFC grammar; what is served is decided elsewhere). */
export type Filter =
  | { kind: 'compare'; path: AttributePath; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: AttributePath }
  | { kind: 'and' | 'or'; filters: [Filter, Filter] }
  | { kind: 'not'; filter: Filter };

type Token =
  | { kind: 'open' | 'close' | 'openBracket' | 'closeBracket'; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'word'; value: string; at: number };

const compareOps = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const attributeName = /^(?:[A-Za-z][\w-]*|\$ref)$/;
const knownSchemas = [scimUrns.user, scimUrns.enterpriseUser].map((urn) => urn.toLowerCase());
const maxFilterLength = 2_000;

function fail(message: string, code: 'invalid_filter' | 'invalid_path'): never {
  throw new AppError(code, message);
}

function tokenize(text: string, code: 'invalid_filter' | 'invalid_path'): Token[] {
  const tokens: Token[] = [];
  const single = { '(': 'open', ')': 'close', '[': 'openBracket', ']': 'closeBracket' } as const;
  let i = 0;
  while (i < text.length) {
    const char = text.charAt(i);
    if (/\s/.test(char)) {
      i += 1;
    } else if (char in single) {
      tokens.push({ kind: single[char as keyof typeof single], at: i });
      i += 1;
    } else if (char === '"') {
      let end = i + 1;
      while (end < text.length && text.charAt(end) !== '"')
        end += text.charAt(end) === '\\' ? 2 : 1;
      if (end >= text.length) fail(`Unterminated string at position ${i + 1}`, code);
      let value: unknown;
      try {
        value = JSON.parse(text.slice(i, end + 1));
      } catch {
        fail(`Malformed string at position ${i + 1}`, code);
      }
      tokens.push({ kind: 'string', value: value as string, at: i });
      i = end + 1;
    } else {
      let end = i;
      while (end < text.length && !/[\s()[\]"]/.test(text.charAt(end))) end += 1;
      tokens.push({ kind: 'word', value: text.slice(i, end), at: i });
      i = end;
    }
  }
  return tokens;
}

/** Splits `[urn:…:]name[.sub]` into its parts; throws for anything that is not a path. */
function splitPathWord(
  word: string,
  code: 'invalid_filter' | 'invalid_path',
): Pick<AttributePath, 'schema' | 'attribute' | 'subAttribute'> {
  let schema: string | null = null;
  let rest = word;
  if (word.toLowerCase().startsWith('urn:')) {
    const lower = word.toLowerCase();
    const known = knownSchemas.find((urn) => lower.startsWith(`${urn}:`));
    // An unknown schema's URN ends at its last colon; which schemas are served is decided later.
    const cut = known === undefined ? word.lastIndexOf(':') : known.length;
    schema = lower.slice(0, cut);
    rest = word.slice(cut + 1);
  }
  const parts = rest.split('.');
  const [attribute, subAttribute, ...more] = parts;
  if (
    attribute === undefined ||
    !attributeName.test(attribute) ||
    (subAttribute !== undefined && !attributeName.test(subAttribute)) ||
    more.length > 0
  ) {
    fail(`"${word}" is not an attribute path`, code);
  }
  return {
    schema,
    attribute: attribute.toLowerCase(),
    subAttribute: subAttribute?.toLowerCase() ?? null,
  };
}

class Parser {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
    private readonly code: 'invalid_filter' | 'invalid_path',
  ) {}

  atEnd(): boolean {
    return this.position >= this.tokens.length;
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private next(what: string): Token {
    const token = this.tokens[this.position];
    if (!token) fail(`The expression ends where ${what} was expected`, this.code);
    this.position += 1;
    return token;
  }

  private peekKeyword(keyword: string): boolean {
    const token = this.peek();
    return token?.kind === 'word' && token.value.toLowerCase() === keyword;
  }

  private expect(kind: Token['kind'], what: string): void {
    const token = this.next(what);
    if (token.kind !== kind) fail(`Expected ${what} at position ${token.at + 1}`, this.code);
  }

  parseOr(): Filter {
    let left = this.parseAnd();
    while (this.peekKeyword('or')) {
      this.position += 1;
      left = { kind: 'or', filters: [left, this.parseAnd()] };
    }
    return left;
  }

  private parseAnd(): Filter {
    let left = this.parseTerm();
    while (this.peekKeyword('and')) {
      this.position += 1;
      left = { kind: 'and', filters: [left, this.parseTerm()] };
    }
    return left;
  }

  private parseTerm(): Filter {
    const token = this.peek();
    if (token?.kind === 'open') {
      this.position += 1;
      const inner = this.parseOr();
      this.expect('close', '")"');
      return inner;
    }
    if (this.peekKeyword('not') && this.tokens[this.position + 1]?.kind === 'open') {
      this.position += 2;
      const inner = this.parseOr();
      this.expect('close', '")"');
      return { kind: 'not', filter: inner };
    }
    const path = this.parsePath();
    const opToken = this.next('an operator');
    const op = opToken.kind === 'word' ? opToken.value.toLowerCase() : '';
    if (op === 'pr') return { kind: 'present', path };
    if (!compareOps.has(op)) {
      fail(
        `Expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) at position ${opToken.at + 1}`,
        this.code,
      );
    }
    return { kind: 'compare', path, op: op as CompareOp, value: this.parseValue() };
  }

  private parseValue(): FilterValue {
    const token = this.next('a value');
    if (token.kind === 'string') return token.value;
    if (token.kind === 'word') {
      const lower = token.value.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(token.value)) return Number(token.value);
    }
    return fail(
      `Expected a value (a "quoted string", true, false, null or a number) at position ${token.at + 1}`,
      this.code,
    );
  }

  parsePath(): AttributePath {
    const token = this.next('an attribute');
    if (token.kind !== 'word') fail(`Expected an attribute at position ${token.at + 1}`, this.code);
    const parts = splitPathWord(token.value, this.code);
    let end = token.at + token.value.length;
    let valueFilter: Filter | null = null;
    let subAttribute = parts.subAttribute;
    if (this.peek()?.kind === 'openBracket' && subAttribute === null) {
      this.position += 1;
      valueFilter = this.parseOr();
      const close = this.next('"]"');
      if (close.kind !== 'closeBracket')
        fail(`Expected "]" at position ${close.at + 1}`, this.code);
      end = close.at + 1;
      const after = this.peek();
      if (after?.kind === 'word' && after.at === end && after.value.startsWith('.')) {
        this.position += 1;
        const sub = after.value.slice(1);
        if (!attributeName.test(sub)) fail(`"${after.value}" is not a sub-attribute`, this.code);
        subAttribute = sub.toLowerCase();
        end = after.at + after.value.length;
      }
    }
    return { ...parts, subAttribute, valueFilter, text: this.text.slice(token.at, end) };
  }
}

/** Parses a `filter` query parameter (RFC 7644 §3.4.2.2); 400 `invalid_filter` when malformed. */
export function parseFilter(text: string): Filter {
  if (text.trim() === '') fail('The filter is empty', 'invalid_filter');
  if (text.length > maxFilterLength)
    fail(`The filter is longer than ${maxFilterLength} characters`, 'invalid_filter');
  const parser = new Parser(tokenize(text, 'invalid_filter'), text, 'invalid_filter');
  const filter = parser.parseOr();
  if (!parser.atEnd()) fail('Unexpected text after the filter', 'invalid_filter');
  return filter;
}

/** Parses a PATCH operation's `path` (RFC 7644 §3.5.2); 400 `invalid_path` when malformed. */
export function parseAttributePath(text: string): AttributePath {
  if (text.trim() === '' || text.length > maxFilterLength)
    fail('The path is empty or too long', 'invalid_path');
  const parser = new Parser(tokenize(text, 'invalid_path'), text, 'invalid_path');
  const path = parser.parsePath();
  if (!parser.atEnd()) fail(`Unexpected text after the path "${path.text}"`, 'invalid_path');
  return path;
}
