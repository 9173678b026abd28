// A device server of your own, in one file: two new device types (a soil
// moisture sensor and a water pump) served as pi1/garden/... .
// Run: RASPY_BROKER=tcp://127.0.0.1:5514 RASPY_KV=tcp://127.0.0.1:5515 node garden-server.mjs
import { Device, DeviceRegistry, DeviceServer, defineDevice } from '@raspy/devices';
import { createLogger } from '@raspy/mdp';

// A device type as a class: declare its type (oid) and commands, implement read().
class SoilMoisture extends Device {
  type = 'sensor.moisture';
  commands = {
    moisture: { type: 'real', label: 'Soil moisture', unit: '%', min: 0, max: 100, readonly: true },
  };
  constructor(config) {
    super(config, 60); // read every 60 s unless configured otherwise
    this.dryPerHour = Number(config.options?.dryPerHour ?? 2);
    this.level = 40;
    this.last = Date.now();
  }
  read(ctx) {
    // A real sensor would read an ADC here; this one dries slowly and is watered by the pump.
    const hours = (ctx.now() - this.last) / 3_600_000;
    this.last = ctx.now();
    this.level = Math.max(0, this.level - hours * this.dryPerHour);
    return { moisture: Math.round(this.level * 10) / 10 };
  }
  water(litres) {
    this.level = Math.min(100, this.level + litres * 5);
  }
}

// A device type from plain functions: a pump that can be switched and run for a number of litres.
const registry = new DeviceRegistry().register('garden.moisture', (config) => new SoilMoisture(config));
const pumps = new Map();
registry.register(
  'garden.pump',
  defineDevice({
    type: 'switch.binary',
    commands: {
      power: { type: 'bool', label: 'Running' },
      litres: { type: 'int', label: 'Water (litres)', unit: 'l', min: 1, max: 50, writeonly: true },
    },
    poll: 30,
    setup: (options, config) => {
      const state = { power: false, bed: options.bed };
      pumps.set(config.id, state);
      return state;
    },
    read: (state) => ({ power: state.power }),
    write: (state, command, value) => {
      if (command === 'power') state.power = value;
      if (command === 'litres') moisture.water(value); // waters the bed it is connected to
      return value;
    },
  }),
);

const moisture = registry.create({ id: 'bed-moisture', kind: 'garden.moisture', name: 'Vegetable bed', options: { dryPerHour: 3 } });
const pump = registry.create({ id: 'pump', kind: 'garden.pump', name: 'Garden pump', options: { bed: 'bed-moisture' } });

const logger = createLogger({ component: 'garden' });
const server = new DeviceServer({
  host: process.env.RASPY_HOST ?? 'pi1',
  server: 'garden',
  devices: [moisture, pump],
  broker: process.env.RASPY_BROKER ?? 'tcp://127.0.0.1:5514',
  kv: process.env.RASPY_KV ?? 'tcp://127.0.0.1:5515',
  logger,
});
await server.start();
logger.info('garden server running', { service: server.service });
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void server.stop());
