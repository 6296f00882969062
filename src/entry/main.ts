import { startProcess } from './start-process';

// The API and the workers in one process (`npm start`, and the image's default command). Demo
// data is seeded only when SEED_DEMO_ON_EMPTY=true, which `npm start` sets for a local first
// run: a production image must never create an organization and an all-scopes key by itself.
void startProcess({ api: true, workers: true });
