// A raw TCP client for the connection faults: write headers and bodies byte by
// byte, as slowly as an attacker would, and watch what the server answers and
// when it closes the connection.
import { connect, type Socket } from 'node:net';

export class RawConnection {
  /** Everything the server sent, as latin1 text. */
  received = '';
  /** Bytes written so far. */
  sent = 0;
  /** Resolves when the server (or an error) closed the connection. */
  readonly closed: Promise<void>;
  private trickle: NodeJS.Timeout | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    // EPIPE / ECONNRESET while writing to a server that closed: the close is what is watched.
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    void this.closed.then(() => clearInterval(this.trickle));
  }

  static async open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawConnection(socket);
  }

  write(data: string | Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(data);
    this.sent += data.length;
  }

  /** Writes `bytes` filler bytes every `everyMs` until the connection closes. */
  trickleBody(bytes: number, everyMs: number): void {
    this.trickle = setInterval(() => this.write(Buffer.alloc(bytes, 0x78)), everyMs);
  }

  /** True if the server closed the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return closed;
  }

  /** Resolves once the server's answer has started arriving. */
  async answer(ms = 5000): Promise<string> {
    const end = Date.now() + ms;
    while (!this.received.includes('\r\n\r\n') && Date.now() < end && !this.socket.destroyed) await new Promise((r) => setTimeout(r, 20));
    return this.received;
  }

  destroy(): void {
    clearInterval(this.trickle);
    this.socket.destroy();
  }
}
