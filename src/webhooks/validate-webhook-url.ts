import { isIP } from 'node:net';
import { AppError } from '../errors/app-error';
import type { AddressPolicy } from './address-policy';
import { systemResolver, type Resolver } from './guarded-dispatcher';

function refuse(message: string): never {
  throw new AppError('url_not_allowed', message, { details: { reason: 'url_not_allowed' } });
}

/**
 * The check at creation (and on every change of URL): `https` to public addresses only, or an
 * address the operator allowed (over `http` as well). Every address the name resolves to must
 * pass. The same check runs again at every connection (src/webhooks/guarded-dispatcher.ts): a
 * name can resolve elsewhere later.
 *
 * @throws AppError `url_not_allowed` saying why.
 */
export async function validateWebhookUrl(
  text: string,
  policy: AddressPolicy,
  resolve: Resolver = systemResolver,
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('The webhook URL is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    refuse('Webhook URLs are https');
  }
  if (url.username !== '' || url.password !== '') {
    refuse('Webhook URLs carry no credentials; the signature authenticates the sender');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses =
    isIP(host) !== 0
      ? [host]
      : await new Promise<string[]>((done) => {
          resolve(host, (error, found) => {
            done(error ? [] : found.map((entry) => entry.address));
          });
        });
  if (addresses.length === 0) refuse(`${host} does not resolve`);
  const secure = url.protocol === 'https:';
  for (const address of addresses) {
    if (secure ? !policy.permits(address) : !policy.isAllowedPrivate(address)) {
      refuse(
        secure
          ? `${host} resolves to ${address}, which is not a public address (WEBHOOK_ALLOWED_ADDRESSES lists the exceptions)`
          : 'Webhook URLs are https (http only to addresses listed in WEBHOOK_ALLOWED_ADDRESSES)',
      );
    }
  }
  return url;
}
