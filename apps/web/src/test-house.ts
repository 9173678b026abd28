/**
 * A whole house in one process, on ephemeral loopback ports, for the web
 * app's tests and benchmark: broker, key/value server, settings store,
 * scenario and cron services, history, a simulated device server, and the
 * web server (listening on 127.0.0.1:0).
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdpBroker, silentLogger, type Logger } from '@raspy/mdp';
import { KvServer } from '@raspy/kv';
import { StoreService } from '@raspy/titanic';
import { ScenarioService } from '@raspy/scenarios';
import {
  DeviceRegistry,
  DeviceServer,
  HistoryService,
  HistoryStore,
  Device,
  recordDevices,
  registerSimulatedDevices,
  type DeviceContext,
} from '@raspy/devices';
import { KvClient } from '@raspy/kv';
import type { FastifyInstance } from 'fastify';
import { Auth } from './auth.js';
import { House } from './house.js';
import { createWebServer } from './server.js';

/** The house of the tests. */
export interface TestHouse {
  /** `http://127.0.0.1:<port>` */
  url: string;
  app: FastifyInstance;
  auth: Auth;
  house: House;
  broker: string;
  kv: KvServer;
  devices: DeviceServer;
  history: HistoryStore;
  /** Publishes a value of the `pi1/sim/probe` device (`value`, °C), as a device that learnt it by itself. */
  push(value: number): void;
  close(): Promise<void>;
}

/** Options of {@link startTestHouse}. */
export interface TestHouseOptions {
  /** The admin password to create (none: setup required). */
  password?: string;
  logger?: Logger;
  loginLimit?: number;
  /** Scenarios and cron jobs to import at the first start. */
  examples?: unknown;
}

/** Starts a house. Close it with `close()`. */
export async function startTestHouse(options: TestHouseOptions = {}): Promise<TestHouse> {
  const logger = options.logger ?? silentLogger;
  const closers: (() => Promise<unknown> | void)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    const data = mkdtempSync(join(tmpdir(), 'raspy-web-'));
    closers.push(() => rmSync(data, { recursive: true, force: true }));
    const brokerServer = new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 250, logger });
    await brokerServer.start();
    closers.push(() => brokerServer.stop());
    const broker = brokerServer.endpoints[0] as string;
    const kv = new KvServer({ host: 'tcp://127.0.0.1', port: 0, logger });
    await kv.start();
    closers.push(() => kv.stop());
    const store = new StoreService({ broker, dataDir: join(data, 'store'), heartbeatInterval: 250, logger });
    await store.start();
    closers.push(() => store.stop());
    const scenarios = new ScenarioService({ host: 'pi1', broker, kv: kv.endpoints, heartbeatInterval: 250, logger, ...(options.examples !== undefined ? { examples: options.examples } : {}) });
    await scenarios.start();
    closers.push(() => scenarios.stop());
    const history = new HistoryStore({ dir: join(data, 'history'), flushInterval: 100 });
    await history.start();
    closers.push(() => history.stop());
    const recorderKv = new KvClient({ servers: kv.endpoints, subtree: '/device/' });
    const unrecord = recordDevices(recorderKv, history);
    await recorderKv.start();
    closers.push(() => recorderKv.close());
    closers.push(unrecord);
    const historyService = new HistoryService({ broker, service: 'pi1.core.history', store: history, heartbeatInterval: 250, logger });
    await historyService.start();
    closers.push(() => historyService.stop());

    let probe: DeviceContext | null = null;
    class Probe extends Device {
      readonly type = 'sensor.temperature';
      readonly commands = { value: { type: 'real', unit: '°C', readonly: true, label: 'Temperature' } } as const;
      override start(ctx: DeviceContext): void {
        probe = ctx;
      }
      read() {
        return { value: 20 };
      }
    }
    const registry = registerSimulatedDevices(new DeviceRegistry()).register('test.probe', (c) => new Probe(c, 0));
    const devices = new DeviceServer({
      host: 'pi1',
      server: 'sim',
      broker,
      kv: kv.endpoints,
      heartbeatInterval: 250,
      availabilityInterval: 1000,
      logger,
      devices: [
        registry.create({ id: 'probe', kind: 'test.probe', name: 'Probe' }),
        registry.create({ id: 'living-light', kind: 'sim.dimmer', name: 'Living room light', poll: 30 }),
        registry.create({ id: 'kitchen-light', kind: 'sim.switch', name: 'Kitchen light', poll: 30 }),
        registry.create({ id: 'tv', kind: 'sim.tv', name: 'Living room TV', poll: 30 }),
        registry.create({ id: 'garden-camera', kind: 'sim.camera', name: 'Garden camera', poll: 0, options: { width: 64, height: 48 } }),
      ],
    });
    await devices.start();
    closers.push(() => devices.stop());

    const auth = await Auth.open(join(data, 'web'));
    if (options.password !== undefined) await auth.setPassword(options.password);
    closers.push(() => auth.close());
    const house = new House({ broker, kv: kv.endpoints.snapshot, logger });
    await house.start();
    closers.push(() => house.close());
    const app = await createWebServer({ house, auth, logger, versions: { 'raspy-web': '0.0.0-test' }, ...(options.loginLimit !== undefined ? { loginLimit: options.loginLimit } : {}) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());
    const address = app.server.address() as { port: number };
    return {
      url: `http://127.0.0.1:${address.port}`,
      app,
      auth,
      house,
      broker,
      kv,
      devices,
      history,
      push(value: number) {
        if (probe === null) throw new Error('the probe has not started');
        probe.publish({ value });
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
