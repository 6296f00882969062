import { seedDemo } from '../demo/seed-demo';
import { withStore } from './with-store';

// `npm run seed`: the demo organization, and an API key for it on standard output.
void withStore(async (models) => {
  const seeded = await seedDemo(models);
  if (!seeded) {
    process.stderr.write(
      'the demo organization exists already; create a key with `npm run keys -- create`\n',
    );
    return;
  }
  const { apiKey, ...counts } = seeded;
  process.stderr.write(`seeded ${JSON.stringify(counts)}\n`);
  process.stdout.write(`${apiKey ?? ''}\n`);
});
