import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { ConsoleConfig } from '../../config/config';
import type { RedisClient } from '../../infra/redis-connection';

/** An organization a signed-in key may pick. */
export interface ConsoleOrganization {
  id: string;
  name: string;
}

/** What the server keeps of a signed-in admin; the API key itself only sealed. */
export interface ConsoleSession {
  /** The API key's id (never the key). */
  keyId: string;
  keyName: string;
  /** The organizations the key may open; one is picked after sign-in when there are several. */
  organizations: ConsoleOrganization[];
  orgId: string | null;
  /** Who the console acts as: the key's bound user, or an admin picked after sign-in. */
  actorId: string | null;
  actorBound: boolean;
  /** Sent back in `X-CSRF-Token` on every state-changing call. */
  csrfToken: string;
  createdAt: number;
  /** The absolute end, however busy the session is. */
  expiresAt: number;
}

interface StoredSession extends ConsoleSession {
  sealedKey: string;
}

/** A session as a request finds it: its data and the API key it unseals. */
export interface OpenSession {
  id: string;
  session: ConsoleSession;
  apiKey: string;
}

/** Server-side console sessions in Redis. */
export interface ConsoleSessions {
  /** Stores a new session; returns its id, the cookie's value. */
  create: (
    apiKey: string,
    data: Omit<ConsoleSession, 'csrfToken' | 'createdAt' | 'expiresAt'>,
  ) => Promise<{ id: string; session: ConsoleSession }>;
  /** The live session of a cookie value, its idle timer restarted; null when absent or expired. */
  open: (id: string) => Promise<OpenSession | null>;
  /** Replaces a session's choices (organization, actor), keeping its lifetime. */
  update: (
    open: OpenSession,
    changes: Partial<Pick<ConsoleSession, 'orgId' | 'actorId'>>,
  ) => Promise<ConsoleSession>;
  destroy: (id: string) => Promise<void>;
}

const idPattern = /^[A-Za-z0-9_-]{43}$/;

// The Redis key is a hash of the cookie value, and the API key is sealed with a key derived from
// it: what Redis holds (a dump, a replica, a MONITOR) gives neither a session nor an API key.
function redisKeyOf(prefix: string, id: string): string {
  return `${prefix}:console-session:${createHash('sha256').update(id).digest('hex')}`;
}

function sealingKey(id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', id, 'offboard-console', 'api-key', 32));
}

function seal(id: string, apiKey: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(id), iv);
  const sealed = Buffer.concat([cipher.update(apiKey, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
}

function unseal(id: string, value: string): string | null {
  try {
    const raw = Buffer.from(value, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(id), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** True when a presented CSRF token is the session's, compared in constant time. */
export function csrfTokenMatches(session: ConsoleSession, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(session.csrfToken));
}

/**
 * Console sessions under `<queue prefix>:console-session:`, each expiring after
 * `sessionIdleSeconds` without use and at the latest `sessionMaxSeconds` after sign-in.
 */
export function createConsoleSessions(
  redis: RedisClient,
  options: ConsoleConfig & { keyPrefix: string },
): ConsoleSessions {
  const ttlMs = (session: ConsoleSession, now: number): number =>
    Math.min(options.sessionIdleSeconds * 1000, session.expiresAt - now);

  const write = async (id: string, stored: StoredSession, now: number): Promise<void> => {
    const ttl = ttlMs(stored, now);
    if (ttl <= 0) {
      await redis.del(redisKeyOf(options.keyPrefix, id));
      return;
    }
    await redis.set(redisKeyOf(options.keyPrefix, id), JSON.stringify(stored), 'PX', ttl);
  };

  return {
    create: async (apiKey, data) => {
      const id = randomBytes(32).toString('base64url');
      const now = Date.now();
      const session: ConsoleSession = {
        ...data,
        csrfToken: randomBytes(32).toString('base64url'),
        createdAt: now,
        expiresAt: now + options.sessionMaxSeconds * 1000,
      };
      await write(id, { ...session, sealedKey: seal(id, apiKey) }, now);
      return { id, session };
    },
    open: async (id) => {
      if (!idPattern.test(id)) return null;
      const key = redisKeyOf(options.keyPrefix, id);
      const raw = await redis.get(key);
      if (raw === null) return null;
      const { sealedKey, ...session } = JSON.parse(raw) as StoredSession;
      const now = Date.now();
      const apiKey = unseal(id, sealedKey);
      if (apiKey === null || session.expiresAt <= now) {
        await redis.del(key);
        return null;
      }
      await redis.pexpire(key, ttlMs(session, now));
      return { id, session, apiKey };
    },
    update: async (open, changes) => {
      const session = { ...open.session, ...changes };
      await write(open.id, { ...session, sealedKey: seal(open.id, open.apiKey) }, Date.now());
      return session;
    },
    destroy: async (id) => {
      if (idPattern.test(id)) await redis.del(redisKeyOf(options.keyPrefix, id));
    },
  };
}
