import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AppConfig } from '../../config/config';
import { AppError } from '../../errors/app-error';
import type { Models } from '../../models/create-models';
import type { AuthThrottle } from '../auth-throttle';
import { authenticate, authorize } from '../authenticate';

/** Who is operating the dashboard or reading the metrics, as the audit trail names them. */
export interface Operator {
  /** `dashboard:<username>` or `key:<api key id>`. */
  actorId: string;
  /** Basic credentials are sent by browsers on their own, so only they need CSRF checks. */
  via: 'basic' | 'bearer';
}

const basicPattern = /^Basic\s+([A-Za-z0-9+/=]+)$/i;

// Hashing first makes the comparison constant-time whatever the lengths.
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The operator a request authenticated as; set by {@link adminGuard}. */
export function operatorOf(res: Response): Operator {
  const operator = (res.locals as { operator?: Operator }).operator;
  if (!operator) throw new AppError('unauthorized', 'Not authenticated');
  return operator;
}

/**
 * Guards the operator surfaces (queue dashboard, metrics), which show and act on every
 * organization's work: HTTP Basic with the configured dashboard credentials, or a Bearer API key
 * with the `admin` scope bound to all organizations (`*`); a key bound to some organizations is
 * 403, whatever its scopes. Without configured credentials the surfaces are off and answer 404,
 * so a deployment that forgot them is closed, not open. Failed sign-ins count towards the
 * client's throttle.
 */
export function adminGuard(
  dashboard: AppConfig['dashboard'],
  models: Models,
  throttle: AuthThrottle,
): RequestHandler {
  const signIn = async (req: Request, res: Response): Promise<void> => {
    if (dashboard === null) throw new AppError('not_found', 'No such route');
    const header = req.headers.authorization ?? '';
    const basic = basicPattern.exec(header)?.[1];
    if (basic !== undefined) {
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      // Both compared every time, so a wrong username takes as long as a wrong password.
      const userOk = sameSecret(username, dashboard.username);
      const passwordOk = sameSecret(password, dashboard.password);
      if (userOk && passwordOk) {
        res.locals.operator = { actorId: `dashboard:${username}`, via: 'basic' } satisfies Operator;
        return;
      }
    } else if (/^Bearer\s/i.test(header)) {
      const key = await authenticate(models, header);
      authorize(key, 'admin', undefined);
      if (!key.orgIds.includes('*')) {
        throw new AppError(
          'forbidden',
          'The operator surfaces show every organization: only a key bound to all organizations (*) opens them',
        );
      }
      res.locals.operator = { actorId: `key:${key._id}`, via: 'bearer' } satisfies Operator;
      return;
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="offboard operators", charset="UTF-8"');
    throw new AppError(
      'unauthorized',
      'Sign in with the dashboard credentials or an admin API key bound to all organizations',
    );
  };
  return (req: Request, res: Response, next: NextFunction) => {
    // Off means absent: no throttling of a surface that does not exist.
    const attempt =
      dashboard === null ? signIn(req, res) : throttle.guard(req, () => signIn(req, res));
    attempt.then(() => {
      next();
    }, next);
  };
}

/**
 * CSRF protection for state-changing calls made with Basic credentials (which a browser attaches
 * to any request to this origin, including ones a hostile page triggers): the request must come
 * from this origin, by the `Sec-Fetch-Site` or `Origin` header every current browser sends.
 * Bearer keys are never attached by a browser on its own, so they pass.
 */
export const sameOriginGuard: RequestHandler = (req, res, next) => {
  const safe = req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS';
  if (safe || operatorOf(res).via === 'bearer') {
    next();
    return;
  }
  const fetchSite = req.get('Sec-Fetch-Site');
  const origin = req.get('Origin');
  let sameOrigin: boolean;
  if (fetchSite !== undefined) sameOrigin = fetchSite === 'same-origin';
  else if (origin !== undefined) sameOrigin = originHost(origin) === req.get('Host');
  else sameOrigin = false;
  if (!sameOrigin) {
    next(
      new AppError(
        'forbidden',
        'Cross-site request refused: state-changing dashboard calls must come from the dashboard itself',
      ),
    );
    return;
  }
  next();
};

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}
