/**
 * Simulated devices: sensors (cyclic, linear, random walk), a switch, a
 * dimmer, a TV with subdevices and a camera, to run a house without
 * hardware, to demo, and to test device servers and clients. All of them
 * take the time only from `ctx.now()` and draw randomness from a seeded
 * generator, so a fake clock makes them fully deterministic.
 *
 * @module
 */
import type { DeviceFactory, DeviceRegistry } from '../model/device.js';
import { CyclicSensor, createCyclicSensor } from './cyclic-sensor.js';
import { LinearSensor, createLinearSensor } from './linear-sensor.js';
import { RandomWalkSensor, createRandomWalkSensor } from './random-walk-sensor.js';
import { SimulatedSwitch, createSimulatedSwitch } from './switch.js';
import { SimulatedDimmer, createSimulatedDimmer } from './dimmer.js';
import { SimulatedTv, createSimulatedTv } from './tv.js';
import { SimulatedCamera, createSimulatedCamera } from './camera.js';

export { CyclicSensor, createCyclicSensor, type CyclicSensorOptions } from './cyclic-sensor.js';
export { LinearSensor, createLinearSensor, type LinearSensorOptions } from './linear-sensor.js';
export { RandomWalkSensor, createRandomWalkSensor, type RandomWalkSensorOptions } from './random-walk-sensor.js';
export { SimulatedSensor, SENSOR_POLL, type SensorOptions } from './sensor.js';
export { SimulatedSwitch, createSimulatedSwitch, type SimulatedSwitchOptions } from './switch.js';
export { SimulatedDimmer, createSimulatedDimmer, type SimulatedDimmerOptions } from './dimmer.js';
export { SimulatedTv, TvPower, TvVolume, TvChannel, TV_CHANNELS, createSimulatedTv, type SimulatedTvOptions, type TvState } from './tv.js';
export {
  SimulatedCamera,
  createSimulatedCamera,
  SNAPSHOT_STREAM_THRESHOLD,
  SNAPSHOT_CHUNK_SIZE,
  MAX_CAMERA_SIDE,
  type SimulatedCameraOptions,
} from './camera.js';
export { encodePng, crc32, pngChunk, PNG_SIGNATURE, type RgbImage } from './png.js';
export { Prng, seedFromText } from './prng.js';
export type { SimDeviceConfig } from './options.js';
export { OptionReader } from './options.js';

/** The simulated kinds and their factories, by kind. */
export const SIMULATED_DEVICES: Readonly<Record<string, DeviceFactory>> = {
  [CyclicSensor.kind]: createCyclicSensor,
  [LinearSensor.kind]: createLinearSensor,
  [RandomWalkSensor.kind]: createRandomWalkSensor,
  [SimulatedSwitch.kind]: createSimulatedSwitch,
  [SimulatedDimmer.kind]: createSimulatedDimmer,
  [SimulatedTv.kind]: createSimulatedTv,
  [SimulatedCamera.kind]: createSimulatedCamera,
};

/**
 * Registers the simulated kinds (`sim.cyclic`, `sim.linear`,
 * `sim.random-walk`, `sim.switch`, `sim.dimmer`, `sim.tv`, `sim.camera`).
 * Use it in a device server that runs without hardware, or in tests.
 *
 * @param registry - the registry to add them to
 * @returns the same registry
 * @throws DeviceError `ERR_DEVICE_INVALID` when one of the kinds is already registered
 * @example
 * ```ts
 * const registry = registerSimulatedDevices(new DeviceRegistry());
 * const sensor = registry.create({ id: 'garden', kind: 'sim.cyclic', options: { period: 86_400, min: 8, max: 24, unit: '°C' } });
 * ```
 */
export function registerSimulatedDevices(registry: DeviceRegistry): DeviceRegistry {
  for (const [kind, factory] of Object.entries(SIMULATED_DEVICES)) registry.register(kind, factory);
  return registry;
}
