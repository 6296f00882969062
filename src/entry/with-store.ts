import type { Connection } from 'mongoose';
import { loadConfig } from '../config/config';
import { connectMongo } from '../infra/mongo-connection';
import { createModels, ensureIndexes, type Models } from '../models/create-models';

/** Runs a command-line task against the configured store, then closes the connection. */
export async function withStore(task: (models: Models) => Promise<void>): Promise<void> {
  let mongo: Connection | undefined;
  try {
    const config = loadConfig(process.env);
    mongo = await connectMongo(config.mongoUrl);
    const models = createModels(mongo);
    await ensureIndexes(models);
    await task(models);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await mongo?.close();
  }
}
