import { pino, type Logger } from 'pino';
import type { AppConfig } from '../config/config';

/**
 * Field names whose values are personal data or secrets. Log lines carry ids; these paths are
 * censored wherever they appear one or two levels deep, as a second line of defence.
 */
const sensitiveFields = [
  'email',
  'firstName',
  'lastName',
  'name',
  'token',
  'apiKey',
  'key',
  'password',
  'authorization',
  'cookie',
];

const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  ...sensitiveFields,
  ...sensitiveFields.map((field) => `*.${field}`),
  ...sensitiveFields.map((field) => `*.*.${field}`),
];

/** Creates the process logger; `destination` lets tests capture the lines. */
export function createLogger(
  config: Pick<AppConfig, 'logLevel'>,
  destination?: NodeJS.WritableStream,
): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'offboard' },
    redact: { paths: redactPaths, censor: '[redacted]' },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

export type { Logger };
