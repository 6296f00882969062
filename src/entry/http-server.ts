import type { Server } from 'node:http';
import type { Express } from 'express';

/** Listens on `port` and resolves once the socket is bound. */
export function listen(app: Express, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '0.0.0.0', (error?: Error) => {
      if (error) reject(error);
      else resolve(server);
    });
    server.keepAliveTimeout = 5_000;
  });
}

/** Stops accepting, lets in-flight requests finish, then drops idle keep-alive sockets. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => {
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
