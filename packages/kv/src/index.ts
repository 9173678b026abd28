/**
 * `@raspy/kv`: a replicated key/value tree over ZeroMQ, speaking the Clone
 * protocol (12/CHP) byte for byte: a server with subtree snapshots, ordered
 * updates, deletes, TTLs, HUGZ and optional durability; a client that keeps
 * a live replica of a subtree and resynchronises by itself.
 *
 * @packageDocumentation
 */
export { KvServer } from './server/server.js';
export type { KvServerOptions, KvServerStats, KvEndpoints } from './server/server.js';
export { KvClient, encodeJsonValue, decodeJsonValue } from './client/client.js';
export type { KvClientOptions, KvClientEvents, KvSetOptions, KvServerAddress } from './client/client.js';
export type { KvChange } from './client/replica.js';
export {
  ICANHAZ,
  KTHXBAI,
  HUGZ,
  RESERVED_KEYS,
  DEFAULT_LIMITS,
  encodeKvMessage,
  decodeKvMessage,
  encodeIcanhaz,
  decodeIcanhaz,
  encodeKthxbai,
  encodeHugz,
  encodeSequence,
  decodeSequence,
  formatProperties,
  parseProperties,
  checkKey,
  checkSubtree,
} from './protocol/codec.js';
export type { KvMessage, KvLimits, KvDecodeResult } from './protocol/codec.js';
export { KvError, isKvError } from './errors.js';
export type { KvErrorCode } from './errors.js';
export { silentKvLogger } from './logger.js';
export type { KvLogger, KvLogFields } from './logger.js';
