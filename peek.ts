import { MongoClient } from 'mongodb';
async function main(): Promise<void> {
  const c = await MongoClient.connect('mongodb://127.0.0.1:27017/');
  const dbs = (await c.db().admin().listDatabases()).databases.filter((d) => d.name.startsWith('drill_'));
  for (const d of dbs) {
    const col = c.db(d.name).collection('deactivations');
    const by: Record<string, number> = {};
    for (const s of ['pending', 'running', 'completed', 'failed']) by[s] = await col.countDocuments({ status: s });
    console.log(d.name, JSON.stringify(by));
  }
  await c.close();
}
void main();
