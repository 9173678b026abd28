/**
 * `@raspy/mdp`: a ZeroMQ Majordomo broker, client and worker speaking 7/MDP
 * (v0.1) and 18/MDP (v0.2) byte for byte, with the MMI management services.
 *
 * @packageDocumentation
 */
export { MdpBroker } from './broker/broker.js';
export type { BrokerOptions } from './broker/broker.js';
export type { BrokerStats, ServiceStats, WorkerInfo } from './broker/broker-core.js';
export { encodeBrokerError, decodeBrokerError } from './broker/broker-errors.js';
export type { BrokerErrorCode } from './broker/broker-errors.js';

export { MdpClient } from './client/client.js';
export type { ClientOptions, RequestOptions, StreamReply } from './client/client.js';

export { MdpWorker } from './worker/worker.js';
export type {
  WorkerOptions,
  StopOptions,
  MdpHandler,
  HandlerReply,
  HandlerStream,
  RequestContext,
} from './worker/worker.js';

export {
  encodeClientRequest,
  encodeClientReply,
  decodeClientRequest,
  decodeClientReply,
  encodeWorkerMessage,
  decodeWorkerMessage,
  decodePeerMessage,
  checkServiceName,
} from './protocol/codec.js';
export type {
  ClientRequest,
  ClientReply,
  WorkerMessage,
  WorkerCommand,
  WorkerDirection,
  PeerMessage,
  DecodeResult,
} from './protocol/codec.js';
export {
  MDP,
  W01_COMMAND,
  C02_COMMAND,
  W02_COMMAND,
  MAX_SERVICE_NAME_BYTES,
  MAX_ADDRESS_BYTES,
} from './protocol/constants.js';
export type { MdpVersion } from './protocol/constants.js';
export { toFrame, toFrames, framesToStrings } from './protocol/frames.js';
export type { Frame, FrameLike } from './protocol/frames.js';

export { MdpError, isMdpError } from './errors.js';
export type { MdpErrorCode } from './errors.js';
export { createLogger, silentLogger, isLogLevel } from './logger.js';
export type { Logger, LogLevel, LogFields, LoggerOptions } from './logger.js';
