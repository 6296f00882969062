import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { AppError } from '../errors/app-error';
import type { AddressPolicy } from './address-policy';

/** Resolves a host name to every address, as `dns.lookup` with `{ all: true }`. */
export type Resolver = (
  hostname: string,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** The system resolver. */
export const systemResolver: Resolver = (hostname, callback) => {
  dnsLookup(hostname, { all: true }, callback);
};

/** The refusal of an address the policy does not permit; `lastError` says `address_not_allowed`. */
export function addressRefused(hostname: string): AppError {
  return new AppError(
    'url_not_allowed',
    `${hostname} resolves to an address that is not public (set WEBHOOK_ALLOWED_ADDRESSES to allow it)`,
    { details: { reason: 'address_not_allowed' } },
  );
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * The `lookup` handed to the socket: it resolves, then refuses unless every address is
 * permitted. The check sits where the connection takes its address, so a name that resolved to
 * a public address when the endpoint was created and to a private one now (DNS rebinding) is
 * refused now.
 */
function guardedLookup(
  permits: (address: string) => boolean,
  resolve: Resolver,
): (hostname: string, options: { all?: boolean }, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    resolve(hostname, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      if (addresses.length === 0 || !addresses.every((entry) => permits(entry.address))) {
        callback(addressRefused(hostname), []);
        return;
      }
      const first = addresses[0];
      if (options.all === true || first === undefined) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/**
 * The dispatcher of webhook requests. Node's global `fetch` ignores `http.Agent`s, so the check
 * is in an undici `Agent` of its own: its connector refuses IP literals the policy does not
 * permit (Node does no lookup for them) and resolves names through {@link guardedLookup}. Over
 * `http` only the operator's allowed addresses pass (plain text never goes to the internet);
 * over `https`, public addresses and the allowed ones. No redirect interceptor is installed, so
 * a 3xx is an answer, never followed.
 */
export function createGuardedDispatcher(
  policy: AddressPolicy,
  options: { connectTimeoutMs: number; resolve?: Resolver },
): Dispatcher {
  const resolve = options.resolve ?? systemResolver;
  const connectors = {
    https: buildConnector({
      timeout: options.connectTimeoutMs,
      lookup: guardedLookup(policy.permits, resolve),
    }),
    http: buildConnector({
      timeout: options.connectTimeoutMs,
      lookup: guardedLookup(policy.isAllowedPrivate, resolve),
    }),
  };
  const connect: buildConnector.connector = (connectOptions, callback) => {
    const secure = connectOptions.protocol === 'https:';
    const host = connectOptions.hostname.replace(/^\[(.*)\]$/, '$1');
    const permits = secure ? policy.permits : policy.isAllowedPrivate;
    if (isIP(host) !== 0 && !permits(host)) {
      callback(addressRefused(host), null);
      return;
    }
    (secure ? connectors.https : connectors.http)(connectOptions, callback);
  };
  return new Agent({ connect, connections: 16 });
}
