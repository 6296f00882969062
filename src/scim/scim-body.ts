import express, { type Request, type Response } from 'express';
import { AppError } from '../errors/app-error';
import { maxBodyBytes } from './scim-constants';

const acceptedTypes = ['application/scim+json', 'application/json'];
const jsonParser = express.json({ limit: maxBodyBytes, strict: true, type: acceptedTypes });

function fromBodyParser(error: unknown): Error {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    return new AppError('payload_too_large', 'The request body is larger than 100 kB');
  }
  if (type === 'entity.parse.failed') {
    return new AppError('invalid_syntax', 'The request body is not valid JSON');
  }
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new AppError('unsupported_media_type', 'The request body encoding is not supported');
  }
  return error instanceof Error ? error : new Error('The request body could not be read');
}

/**
 * Reads a SCIM request's JSON body: `application/scim+json` or `application/json` (415
 * otherwise), at most 100 kB (413), an object or array (400 `invalid_syntax`). A request
 * without a body is 400 `invalid_syntax`.
 */
export async function readScimBody(req: Request, res: Response): Promise<unknown> {
  if (req.headers['content-type'] !== undefined && !req.is(acceptedTypes)) {
    throw new AppError(
      'unsupported_media_type',
      'Send the body as application/scim+json or application/json',
    );
  }
  await new Promise<void>((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- express's own Request
    jsonParser(req, res, (error?: unknown) => {
      if (error === undefined) resolve();
      else reject(fromBodyParser(error));
    });
  });
  const body: unknown = req.body;
  if (body === undefined || body === null) {
    throw new AppError('invalid_syntax', 'The request needs a JSON body');
  }
  return body;
}
