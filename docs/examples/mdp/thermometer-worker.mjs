// A worker serving one service, as a RasPy device server would.
// Run: RASPY_BROKER=tcp://127.0.0.1:5514 node thermometer-worker.mjs
import { MdpWorker, createLogger } from '@raspy/mdp';

const logger = createLogger({ component: 'thermometer' });
let celsius = 20.0;

const worker = new MdpWorker({
  endpoint: process.env.RASPY_BROKER ?? 'tcp://127.0.0.1:5514',
  service: 'pi1.kitchen.thermometer',
  logger,
  // Requests are [action, json?]; replies are [status, json?] (RasPy convention).
  handler: async ([action, argument]) => {
    switch (String(action)) {
      case 'read':
        celsius += (Math.random() - 0.5) / 10;
        return ['200', JSON.stringify({ value: Number(celsius.toFixed(2)), unit: '°C', ts: Date.now() })];
      case 'calibrate': {
        let offset;
        try {
          offset = JSON.parse(String(argument ?? '')).offset;
        } catch {
          return ['400', JSON.stringify({ error: 'calibrate takes {"offset": <number>}' })];
        }
        if (typeof offset !== 'number' || Math.abs(offset) > 5) {
          return ['400', JSON.stringify({ error: 'offset must be a number between -5 and 5' })];
        }
        celsius += offset;
        return ['200', JSON.stringify({ value: Number(celsius.toFixed(2)) })];
      }
      default:
        return ['501', JSON.stringify({ error: `unknown action "${action}"` })];
    }
  },
});

await worker.start();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => void worker.stop().then(() => logger.info('stopped')));
}
