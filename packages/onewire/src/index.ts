/**
 * `@raspy/onewire`: 1-Wire temperature probes (DS18B20 and family) for
 * RasPy, read from the Linux kernel's w1 bus (sysfs) or from an OWFS
 * owserver, and served as devices that follow the bus (probes plugged in
 * appear, unplugged ones go lost) and never publish a bad reading as a
 * temperature.
 *
 * @packageDocumentation
 */
export { TEMPERATURE_FAMILIES, PROBE_ID } from './source.js';
export type { TemperatureSource, ProbeInfo, TemperatureReading, BadReadingReason } from './source.js';
export { SysfsSource, DEFAULT_SYSFS_ROOT } from './sysfs/sysfs-source.js';
export type { SysfsSourceOptions } from './sysfs/sysfs-source.js';
export { OwserverClient } from './owserver/client.js';
export type { OwserverClientOptions, DirOptions } from './owserver/client.js';
export { OwserverSource } from './owserver/owserver-source.js';
export type { OwserverSourceOptions } from './owserver/owserver-source.js';
export { OWSERVER_DEFAULT_PORT, describeReturnCode, returnCodeName } from './owserver/protocol.js';
export { TemperatureProbe, READING_STATUSES } from './server/probe.js';
export { OneWireServer } from './server/onewire-server.js';
export type { OneWireServerOptions } from './server/onewire-server.js';
export { OneWireError, isOneWireError } from './errors.js';
export type { OneWireErrorCode } from './errors.js';
