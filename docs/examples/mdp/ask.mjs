// Sends one request and prints the reply frames.
// Run: RASPY_BROKER=tcp://127.0.0.1:5514 node ask.mjs <service> [frames...]
import { MdpClient, isMdpError } from '@raspy/mdp';

const [service, ...frames] = process.argv.slice(2);
if (service === undefined) {
  console.error('usage: node ask.mjs <service> [frames...]');
  process.exit(2);
}
const client = new MdpClient({ endpoint: process.env.RASPY_BROKER ?? 'tcp://127.0.0.1:5514', timeout: 2000, retries: 1 });
try {
  const reply = await client.request(service, ...frames);
  for (const frame of reply) console.log(frame.toString());
} catch (err) {
  console.error(isMdpError(err) ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await client.close();
}
