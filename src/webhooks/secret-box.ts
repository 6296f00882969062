import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors/app-error';

const version = 'v1';

/**
 * The key that encrypts webhook secrets at rest, or the refusal that names the variable to set.
 *
 * @throws AppError `webhooks_not_configured` without `SECRETS_KEY`.
 */
export function requireSecretsKey(key: Buffer | null): Buffer {
  if (key === null) {
    throw new AppError(
      'webhooks_not_configured',
      'Webhooks need SECRETS_KEY (the base64 of 32 random bytes, e.g. `openssl rand -base64 32`) to encrypt their signing secrets',
    );
  }
  return key;
}

/**
 * Encrypts `plaintext` with AES-256-GCM under `key`. `context` (the endpoint id) is bound as
 * additional data, so a ciphertext copied onto another endpoint does not decrypt there.
 * Returns `v1.<iv>.<tag>.<ciphertext>`, each part base64.
 */
export function sealSecret(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [version, iv, cipher.getAuthTag(), sealed]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64')))
    .join('.');
}

/**
 * Decrypts what {@link sealSecret} produced.
 *
 * @throws AppError `webhooks_not_configured` when the key or the context is not the one it was
 * sealed with: an operator's matter, which no retry heals.
 */
export function openSecret(key: Buffer, sealed: string, context: string): string {
  const [tag, iv, authTag, data] = sealed.split('.');
  if (tag !== version || iv === undefined || authTag === undefined || data === undefined) {
    throw new AppError('webhooks_not_configured', 'A stored webhook secret has an unknown format');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(authTag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  } catch (error) {
    throw new AppError(
      'webhooks_not_configured',
      'A stored webhook secret does not decrypt with SECRETS_KEY (was the key changed?)',
      { cause: error },
    );
  }
}

/** A new Standard Webhooks signing secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
