import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * helmet's headers on every response of every surface. Its defaults, with three changes:
 * - no page may frame ours (`frame-ancestors 'none'`, `X-Frame-Options: DENY`): a framed
 *   dashboard would turn a visitor's clicks into same-origin calls that pass the CSRF check;
 * - no `upgrade-insecure-requests`, which would break the dashboard where it is served over
 *   plain HTTP on an internal network;
 * - HSTS without `includeSubDomains`: the service does not own its parent domain's other hosts.
 * The default CSP already lets bull-board's page load: its scripts and styles come from this
 * origin, its font stylesheet from Google Fonts over https, its inline styles are allowed.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      directives: { frameAncestors: ["'none'"], upgradeInsecureRequests: null },
    },
    frameguard: { action: 'deny' },
    strictTransportSecurity: { maxAge: 365 * 24 * 60 * 60, includeSubDomains: false },
  });
}
