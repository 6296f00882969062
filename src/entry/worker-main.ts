import { startProcess } from './start-process';

// `npm run start:worker`: workers alone; run as many as the load needs.
void startProcess({ api: false, workers: true });
