import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';

/** The contract's error body (see docs/api.md). */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

interface BodyParserError {
  type?: string;
  status?: number;
}

function fromBodyParser(error: unknown): AppError | null {
  const type = (error as BodyParserError | null)?.type;
  if (type === 'entity.too.large') {
    return new AppError('payload_too_large', 'The request body is larger than 100 kB');
  }
  if (type === 'entity.parse.failed') {
    return new AppError('validation_failed', 'The request body is not valid JSON');
  }
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new AppError('unsupported_media_type', 'The request body encoding is not supported');
  }
  return null;
}

/** Writes an {@link AppError} in the contract's shape. */
export function errorBody(error: AppError): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

// A 429's details say when to come back; the header repeats it for clients that read only that.
function retryAfterSeconds(details: unknown): number {
  const seconds = (details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && seconds > 0 ? Math.ceil(seconds) : 1;
}

/** The single place where errors become HTTP responses. */
export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const appError = fromBodyParser(error) ?? toAppError(error);
  if (appError.httpStatus >= 500) {
    // Absent on the worker's metrics server, which has no request logger.
    (req.log as typeof req.log | undefined)?.error(
      { err: error, code: appError.code },
      'request failed',
    );
  }
  if (appError.code === 'service_unavailable') res.setHeader('Retry-After', '1');
  if (appError.code === 'too_many_requests') {
    res.setHeader('Retry-After', String(retryAfterSeconds(appError.details)));
  }
  res.status(appError.httpStatus).json(errorBody(appError));
};

/** Unknown routes answer 404 in the contract's shape. */
export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(new AppError('not_found', 'No such route'));
};
