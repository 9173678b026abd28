/**
 * A scripted owserver for tests, on node:net: it parses requests with the
 * protocol module and lets each test answer them as it likes (pings, replies
 * cut in pieces, several replies in one write, silence, a dropped line).
 *
 * @module
 */
import { createServer, type Server, type Socket } from 'node:net';
import { RequestParser, type RequestHeader } from '../protocol.js';

/** A request the fake server received. */
export interface FakeRequest {
  readonly header: RequestHeader;
  readonly type: number;
  readonly path: string;
  readonly data: Buffer;
  /** Which connection it came on (1, 2, … in order of accept). */
  readonly connection: number;
}

/** Answers one request: write to `socket`; end it or not. */
export type FakeHandler = (request: FakeRequest, socket: Socket) => void | Promise<void>;

/** Writes `bytes` in pieces cut at `cuts`, a moment apart, so that they travel as separate TCP segments. */
export async function writeInPieces(socket: Socket, bytes: Buffer, cuts: readonly number[]): Promise<void> {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    socket.write(bytes.subarray(start, cut));
    start = cut;
    // Not a synchronisation: the client must cope whether pieces merge or not.
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fake owserver on 127.0.0.1. */
export class FakeOwserver {
  /** Every request received, in order. */
  readonly requests: FakeRequest[] = [];
  /** Connections accepted. */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts a fake server whose `handler` answers every request. */
  static async start(handler: FakeHandler): Promise<FakeOwserver> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const fake = new FakeOwserver(server, typeof address === 'object' && address !== null ? address.port : 0);
    server.on('connection', (socket) => fake.accept(socket, handler));
    return fake;
  }

  /** Connections open now (the server side sees a client's close a moment later). */
  get open(): number {
    return this.sockets.size;
  }

  /** The requests' paths, in order. */
  get paths(): string[] {
    return this.requests.map((r) => r.path);
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket, handler: FakeHandler): void {
    const connection = ++this.connections;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const parser = new RequestParser();
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const { header, path, data } of parser.push(chunk)) {
        const request: FakeRequest = { header, type: header.type, path, data, connection };
        this.requests.push(request);
        queue = queue
          .then(() => handler(request, socket))
          .catch(() => {
            socket.destroy();
          });
      }
    });
  }
}
