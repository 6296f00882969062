import type { ApiKey } from '../models/api-key.model';

/**
 * Active API keys an API process looked up, by hash, each trusted for `ttlMs` after its lookup.
 * Every request authenticates, and a key changes only when it is revoked, so a few seconds of
 * trust saves a store read per request. The bound is the whole cost: a key revoked by another
 * process (`keys revoke`) is still accepted here for at most `ttlMs`; one revoked through this
 * process's own models is forgotten at once. Only keys that were found are kept: a new key works
 * at once, and an unknown one is looked up every time (the failed-auth throttle limits guessing).
 */
export interface ApiKeyCache {
  ttlMs: number;
  byHash: Map<string, { key: ApiKey; expiresAt: number }>;
}

/** Enough for every key of a deployment; the oldest entry goes first when it is full. */
const maxEntries = 10_000;

// Keyed by the apiKeys model, so every caller holding the same models shares one cache, and the
// revocation in api-key-repository.ts reaches it without being handed it.
const caches = new WeakMap<object, ApiKeyCache>();

/** Turns the cache on (`ttlMs > 0`) or off for the keys read through `owner` (the apiKeys model). */
export function configureApiKeyCache(owner: object, ttlMs: number): void {
  if (ttlMs <= 0) caches.delete(owner);
  else caches.set(owner, { ttlMs, byHash: new Map() });
}

/** The key trusted for `hash` at `now`, or undefined (absent, expired or caching off). */
export function cachedApiKey(owner: object, hash: string, now: number): ApiKey | undefined {
  const cache = caches.get(owner);
  const entry = cache?.byHash.get(hash);
  if (!cache || !entry) return undefined;
  if (entry.expiresAt <= now) {
    cache.byHash.delete(hash);
    return undefined;
  }
  return entry.key;
}

/** Trusts `key`, just read from the store as active, until `now + ttlMs`. */
export function rememberApiKey(owner: object, key: ApiKey, now: number): void {
  const cache = caches.get(owner);
  if (!cache) return;
  cache.byHash.delete(key.keyHash);
  if (cache.byHash.size >= maxEntries) {
    const oldest = cache.byHash.keys().next();
    if (oldest.done !== true) cache.byHash.delete(oldest.value);
  }
  cache.byHash.set(key.keyHash, { key, expiresAt: now + cache.ttlMs });
}

/** Forgets the key with id `id` (it was just revoked through `owner`). */
export function forgetApiKey(owner: object, id: string): void {
  const cache = caches.get(owner);
  if (!cache) return;
  for (const [hash, entry] of cache.byHash) if (entry.key._id === id) cache.byHash.delete(hash);
}
