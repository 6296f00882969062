import { startProcess } from './start-process';

// `npm start`: the API and the workers in one process, seeding demo data into an empty store.
void startProcess({ api: true, workers: true, seedWhenEmpty: true });
