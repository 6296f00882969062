import { startProcess } from './start-process';

// `npm run start:api`: the HTTP API alone.
void startProcess({ api: true, workers: false });
