/**
 * `@raspy/devices`: the device model (devices, commands, value types, units,
 * subdevices), a registry of device kinds open to third parties, the device
 * server that serves devices over MDP and publishes them into the key/value
 * tree, discovery, and simulated devices.
 *
 * @packageDocumentation
 */
export { Device, DeviceRegistry, defineDevice } from './model/device.js';
export type { DeviceConfig, DeviceContext, DeviceDefinition, DeviceFactory, BytesValue } from './model/device.js';
export {
  VALUE_TYPES,
  COMMAND_NAME,
  CONFIG_COMMANDS,
  validateCommandSpec,
  validateValue,
  parseValueText,
} from './model/command.js';
export type { CommandSpec, ValueType } from './model/command.js';
export {
  ID_SEGMENT,
  DEVICE_TYPE,
  parseDeviceId,
  deviceService,
  valueKey,
  validateDescription,
} from './model/description.js';
export type { DeviceDescription } from './model/description.js';
export { validateServerConfig } from './model/server-config.js';
export type { ServerConfig } from './model/server-config.js';
export { DeviceServer } from './server/device-server.js';
export type { DeviceServerOptions, Reading } from './server/device-server.js';
export { DevicesClient, route } from './client.js';
export type { DeviceSummary, DiscoveredDevice } from './client.js';
export { DeviceError, isDeviceError } from './errors.js';
export type { DeviceErrorCode } from './errors.js';
export {
  registerSimulatedDevices,
  SIMULATED_DEVICES,
  CyclicSensor,
  LinearSensor,
  RandomWalkSensor,
  SimulatedSensor,
  SimulatedSwitch,
  SimulatedDimmer,
  SimulatedTv,
  SimulatedCamera,
  SNAPSHOT_STREAM_THRESHOLD,
  SNAPSHOT_CHUNK_SIZE,
  OptionReader,
} from './sim/index.js';
export type {
  CyclicSensorOptions,
  LinearSensorOptions,
  RandomWalkSensorOptions,
  SensorOptions,
  SimulatedSwitchOptions,
  SimulatedDimmerOptions,
  SimulatedTvOptions,
  SimulatedCameraOptions,
  SimDeviceConfig,
  TvState,
} from './sim/index.js';
export { HistoryStore, recordDevices } from './history/history.js';
export type { HistoryOptions } from './history/history.js';
export { HistoryService, HistoryClient } from './history/service.js';
export type { HistoryServiceOptions } from './history/service.js';
export { defaultDataDir, checkDataDir } from './data-dir.js';
