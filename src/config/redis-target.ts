/** One node of a Redis Cluster, as listed in a `redis+cluster://` URL. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server (`redis://`, `rediss://`, given to ioredis as it is), or a Redis
 * Cluster (`redis+cluster://host1:port1,host2:port2`, `rediss+cluster://` for TLS) reached
 * through any of its listed nodes, which share the URL's credentials.
 */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | {
      mode: 'cluster';
      nodes: RedisNode[];
      username: string | undefined;
      password: string | undefined;
      tls: boolean;
    };

const clusterUrl = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/;
const nodePattern = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function decodeCredentials(userInfo: string | undefined): {
  username: string | undefined;
  password: string | undefined;
} {
  if (userInfo === undefined || userInfo === '')
    return { username: undefined, password: undefined };
  const colon = userInfo.indexOf(':');
  const user = colon === -1 ? userInfo : userInfo.slice(0, colon);
  const pass = colon === -1 ? undefined : userInfo.slice(colon + 1);
  return {
    username: user === '' ? undefined : decodeURIComponent(user),
    password: pass === undefined || pass === '' ? undefined : decodeURIComponent(pass),
  };
}

/**
 * Parses `REDIS_URL`. Returns `null` for anything that is neither a `redis://`/`rediss://` URL
 * nor a `redis+cluster://` list of `host:port` nodes (the config reports it).
 */
export function parseRedisTarget(url: string): RedisTarget | null {
  if (/^rediss?:\/\/\S+$/.test(url)) return { mode: 'single', url };
  const match = clusterUrl.exec(url);
  if (!match) return null;
  const [, scheme, userInfo, hostList] = match;
  const nodes: RedisNode[] = [];
  for (const entry of (hostList ?? '').split(',')) {
    const node = nodePattern.exec(entry);
    const port = Number(node?.[2]);
    if (!node?.[1] || port < 1 || port > 65_535) return null;
    nodes.push({ host: node[1].replace(/^\[|\]$/g, ''), port });
  }
  return { mode: 'cluster', nodes, ...decodeCredentials(userInfo), tls: scheme === 'rediss' };
}

/** The `{tag}` of a key prefix: the part Redis Cluster hashes to pick the slot; `null` without. */
export function hashTagOf(prefix: string): string | null {
  const open = prefix.indexOf('{');
  if (open === -1) return null;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : null;
}
