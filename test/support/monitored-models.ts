import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { createModels, type Models } from '../../src/models/create-models';
import { mongoUrl } from './test-env';

/** A command the code under test sent: its name and the collection it names. */
export interface SentCommand {
  name: string;
  collection: unknown;
}

/** Models on a connection of their own with command monitoring, and what they sent, in order. */
export interface MonitoredModels {
  models: Models;
  sent: SentCommand[];
  close: () => Promise<void>;
}

/**
 * Opens a second connection to `dbName` with command monitoring: tests that assert which reads
 * and writes the code issues (and in which order) run the code on these models. `sent` is the
 * live list; a test may empty it between phases.
 */
export async function openMonitoredModels(dbName: string): Promise<MonitoredModels> {
  const connection = await mongoose
    .createConnection(mongoUrl, {
      dbName,
      monitorCommands: true,
      autoIndex: false,
      autoCreate: false,
    })
    .asPromise();
  const sent: SentCommand[] = [];
  connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
    sent.push({ name: event.commandName, collection: event.command[event.commandName] });
  });
  return { models: createModels(connection), sent, close: () => connection.close() };
}
