/**
 * Minimal types for modesl 1.2.1 (which ships none): only what Fife uses.
 * Load it with createRequire (it is CommonJS): `require('modesl') as typeof import('modesl')`.
 * Connection and Parser are EventEmitter2 instances (wildcard, `::` delimiter); inside a
 * listener `this.event` is the name that fired.
 */
declare module 'modesl' {
  import type { Socket } from 'node:net';

  type Listener = (this: { event: string | string[] }, ...args: any[]) => void;

  export class Event {
    constructor(type: string, subclass?: string);
    constructor(headers: Record<string, unknown>, body?: string);
    headers: Array<{ name: string; value: string }>;
    type: string;
    body: string;
    getHeader(name: string): string | null;
    getBody(): string;
    getType(): string;
    addHeader(name: string, value: string): void;
    serialize(format?: 'plain' | 'json' | 'xml'): string;
  }

  export interface Parser {
    /** Bytes received and not yet parsed. */
    buffer: Buffer;
    _parseHeaderText(text: string): Record<string, string | number>;
    /** Index of the first `\n\n` in `buffer`, or -1. */
    _indexOfHeaderEnd(): number;
    /** A whole frame: its headers (Content-Length a number) and body; emits 'esl::event'. */
    _parseEvent(headers: Record<string, unknown>, body?: string): void;
    on(event: string, listener: Listener): this;
  }

  export class Connection {
    /** Inbound: connects to host:port, authenticates with password, then emits esl::ready. */
    constructor(host: string, port: number, password: string, ready?: () => void);
    /** Outbound: wraps a socket FreeSWITCH connected to us. */
    constructor(socket: Socket, ready?: () => void);
    socket: Socket | null;
    parser: Parser | undefined;
    authed: boolean;
    connected(): boolean;
    send(command: string, args?: Record<string, string | number | boolean>): void;
    sendRecv(
      command: string,
      args: Record<string, string | number | boolean> | null | undefined,
      cb?: (e: Event) => void,
    ): void;
    api(command: string, args: string, cb?: (e: Event) => void): void;
    bgapi(command: string, args: string, jobId: string | null, cb?: (e: Event) => void): void;
    events(type: 'plain' | 'json' | 'xml', events: string | string[], cb?: (e: Event) => void): void;
    filter(header: string, value: string, cb?: (e: Event) => void): void;
    filterDelete(header: string, value: string | null, cb?: (e: Event) => void): void;
    execute(app: string, arg: string, uuid: string, cb?: (e: Event) => void): string;
    disconnect(): void;
    on(event: string | string[], listener: Listener): this;
    once(event: string | string[], listener: Listener): this;
    onAny(listener: (event: string | string[], ...args: any[]) => void): this;
    removeListener(event: string | string[], listener: Listener): this;
    removeAllListeners(event?: string | string[]): this;
    emit(event: string | string[], ...args: unknown[]): boolean;
  }

  export class Server {
    constructor(opts: { port: number; host?: string; myevents?: boolean }, ready?: () => void);
    on(event: string, listener: Listener): this;
    close(cb?: () => void): void;
  }

  export function setLogLevel(level: number): void;
}
