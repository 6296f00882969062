/**
 * A request URL as the request log writes it. SCIM queries name people (`filter=userName eq
 * "ada@example.com"`), and logs carry ids only: under `/scim` the query string is left out.
 */
export function loggableUrl(url: string): string {
  return url.startsWith('/scim') ? url.replace(/\?[\s\S]*$/, '') : url;
}
