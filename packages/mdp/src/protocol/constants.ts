/**
 * Protocol constants of 7/MDP (v0.1) and 18/MDP (v0.2), byte for byte.
 *
 * @see https://rfc.zeromq.org/spec/7/
 * @see https://rfc.zeromq.org/spec/18/
 * @module
 */

/** An MDP protocol version: 1 is 7/MDP (v0.1), 2 is 18/MDP (v0.2). */
export type MdpVersion = 1 | 2;

/** Protocol header strings, as they appear in the header frame. */
export const MDP = {
  /** MDP/Client v0.1 header. */
  C01: 'MDPC01',
  /** MDP/Worker v0.1 header. */
  W01: 'MDPW01',
  /** MDP/Client v0.2 header. */
  C02: 'MDPC02',
  /** MDP/Worker v0.2 header. */
  W02: 'MDPW02',
} as const;

/** Command bytes of MDP/Worker v0.1 (7/MDP). */
export const W01_COMMAND = {
  READY: 0x01,
  REQUEST: 0x02,
  REPLY: 0x03,
  HEARTBEAT: 0x04,
  DISCONNECT: 0x05,
} as const;

/** Command bytes of MDP/Client v0.2 (18/MDP). */
export const C02_COMMAND = {
  REQUEST: 0x01,
  PARTIAL: 0x02,
  FINAL: 0x03,
} as const;

/** Command bytes of MDP/Worker v0.2 (18/MDP). */
export const W02_COMMAND = {
  READY: 0x01,
  REQUEST: 0x02,
  PARTIAL: 0x03,
  FINAL: 0x04,
  HEARTBEAT: 0x05,
  DISCONNECT: 0x06,
} as const;

/** Longest service name accepted, in bytes (a ZeroMQ short string). */
export const MAX_SERVICE_NAME_BYTES = 255;

/** Longest client address accepted in a worker command, in bytes (ZeroMQ routing ids are 1 to 255 bytes). */
export const MAX_ADDRESS_BYTES = 255;
